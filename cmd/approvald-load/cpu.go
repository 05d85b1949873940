package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/<pid>/stat's CPU times: USER_HZ, 100 a
// second in Linux's ABI on every architecture Go supports.
const clockTick = 10 * time.Millisecond

// serverCPU returns the CPU time (user and system) process pid has used,
// from /proc/<pid>/stat; 0 for pid 0. It returns an error when the file
// cannot be read (no such process, not Linux) or does not parse.
func serverCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("-server-pid %d: %w", pid, err)
	}
	return parseStat(string(b))
}

// parseStat returns utime + stime of a /proc/<pid>/stat line. The command
// name, in parentheses, may hold spaces and parentheses: the fields are
// counted from the last ')'.
func parseStat(line string) (time.Duration, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat line %.40q has no command name", line)
	}
	f := strings.Fields(line[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat line %.40q has %d fields after the command name, want at least 13", line, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || utime < 0 || stime < 0 {
		return 0, fmt.Errorf("/proc stat line %.40q: utime %q and stime %q are not tick counts", line, f[11], f[12])
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// setServerCPU records that the server used cpu during the run, in all
// and per call made.
func (rep *Report) setServerCPU(cpu time.Duration) {
	rep.ServerCPUms = float64(cpu.Microseconds()) / 1000
	calls := 0
	for _, op := range rep.Ops {
		calls += op.Count + op.Errors
	}
	if calls > 0 {
		rep.ServerCPUPerCallUs = float64(cpu.Microseconds()) / float64(calls)
	}
}
