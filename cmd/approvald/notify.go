package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"approvald/delivery"
	"approvald/notify"
	"approvald/signedlink"
)

// notifierWorkers is how many goroutines plan and how many send.
const notifierWorkers = 2

// startNotifier starts the workers that turn the outbox's events into
// notifications and send them, unless notifications are off, and returns
// the signer of the links (which the web UI checks; never nil).
func startNotifier(ctx context.Context, wg *sync.WaitGroup, cfg config, st notify.Store, waker *delivery.Waker,
	reg prometheus.Registerer, addr net.Addr, log *slog.Logger) (*signedlink.Signer, error) {
	signer := signedlink.Random()
	var missing []string
	if cfg.Notify.LinkKeys != "" {
		keys, err := signedlink.ParseKeys(cfg.Notify.LinkKeys)
		if err == nil {
			signer, err = signedlink.New(keys...)
		}
		if err != nil {
			return nil, fmt.Errorf("APPROVALD_LINK_KEYS: %w", err) // checked by parseConfig already
		}
	} else {
		missing = append(missing, "APPROVALD_LINK_KEYS (links are signed with a key made at start, which dies with the process)")
	}
	if !cfg.Notify.Enabled {
		return signer, nil
	}
	public := cfg.Notify.PublicURL
	if public == "" {
		public = "http://" + localURLHost(addr)
		missing = append(missing, "--public-url (links point at this machine's listener)")
	}
	if len(missing) > 0 {
		log.Warn("before configuring notification channels, set " + strings.Join(missing, " and "))
	}
	nc := notify.Config{
		PublicURL: public, Signer: signer, BatchWindow: cfg.Notify.BatchWindow, LinkTTL: cfg.Notify.LinkTTL,
		PersonalChannel: cfg.Notify.EmailChannel, MaxAttempts: cfg.Notify.MaxAttempts,
		Logger: log.With("component", "notify"), AllowPrivate: cfg.AllowPrivate, Registry: reg, Wake: waker.Listen,
	}
	planner, err := notify.NewPlanner(st, nc)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	sender, err := notify.NewSender(st, nc)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	wg.Go(func() { planner.Run(ctx, notifierWorkers) })
	wg.Go(func() { sender.Run(ctx, notifierWorkers) })
	return signer, nil
}

// localURLHost is the host:port of a listener as a URL names it: a
// wildcard address becomes localhost.
func localURLHost(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
