package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// readyWithin bounds one start.
const readyWithin = 30 * time.Second

// measureStartup starts o.exec o.runs times, one after the other. Each
// time it measures the time from exec to the first 200 of /readyz (polled
// every millisecond on a new connection), then, after o.idle, the
// server's resident memory (VmRSS), and stops it with SIGTERM.
func measureStartup(ctx context.Context, o options) (Report, error) {
	rep := Report{Scenario: "startup", Target: o.target(), Clients: 1}
	poll := &http.Client{Timeout: 100 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	var ready []time.Duration
	var rss []float64
	begin := time.Now()
	for range o.runs {
		if o.remove != "" {
			for _, f := range []string{o.remove, o.remove + "-wal", o.remove + "-shm"} {
				if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
					return rep, err
				}
			}
		}
		d, kib, err := startOnce(ctx, o, poll)
		if err != nil {
			return rep, err
		}
		ready = append(ready, d)
		if kib > 0 {
			rss = append(rss, float64(kib)/1024)
		}
	}
	st := opStat("ready", ready, nil, time.Since(begin))
	st.PerSecond = 0
	rep.Ops = []OpStat{st}
	rep.Seconds = time.Since(begin).Seconds()
	if len(rss) > 0 {
		slices.Sort(rss)
		rep.IdleRSSMiB = rss[len(rss)/2]
		rep.IdleRSSMaxMiB = rss[len(rss)-1]
	}
	return rep, nil
}

// startOnce starts the server, returns the time until it was ready and,
// when o.idle > 0, its VmRSS in KiB after idling; it stops the server.
func startOnce(ctx context.Context, o options, poll *http.Client) (time.Duration, int, error) {
	cmd := exec.Command(o.exec, o.args...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			return nil
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("the server did not stop within 30s of SIGTERM")
		}
	}
	var ready time.Duration
	for {
		code, _, err := send(ctx, poll, http.MethodGet, o.url+"/readyz", nil, nil)
		if err == nil && code == http.StatusOK {
			ready = time.Since(start)
			break
		}
		select {
		case err := <-exited:
			return 0, 0, fmt.Errorf("the server exited before it was ready (%v): %s", err, logs.String())
		case <-time.After(time.Millisecond):
		}
		if time.Since(start) > readyWithin || ctx.Err() != nil {
			_ = stop()
			return 0, 0, fmt.Errorf("the server was not ready within %s: %s", readyWithin, logs.String())
		}
	}
	kib := 0
	if o.idle > 0 {
		time.Sleep(o.idle)
		var err error
		if kib, err = vmRSS(cmd.Process.Pid); err != nil {
			_ = stop()
			return 0, 0, err
		}
	}
	return ready, kib, stop()
}

// vmRSS returns the resident memory of process pid in KiB, from Linux's
// /proc/<pid>/status.
func vmRSS(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the server's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, errors.New("no VmRSS in /proc/<pid>/status")
}
