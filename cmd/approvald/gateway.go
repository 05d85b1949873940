package main

import (
	"context"
	"fmt"
	"log/slog"

	"approvald/approval"
	"approvald/auth"
	"approvald/engine"
	"approvald/gateway"
	"approvald/metrics"
)

// newGateway builds the CR8TOR gateway of cfg.Gateway, with its approval
// step (cfg.GatewayPolicy, cfg.GatewayServiceRule) when cfg.Gateway.Approval
// asks for one.
func newGateway(cfg config, eng *engine.Engine, keys *auth.Keys, store database, log *slog.Logger, meters *metrics.Metrics, traced bool) (*gateway.Gateway, error) {
	d := gateway.Deps{
		// Native API keys with the gateway scope are accepted besides the
		// configured approvalserviceapikey.
		Authenticate: func(ctx context.Context, key string) (approval.Principal, error) {
			p, err := keys.Authenticate(ctx, key)
			if err == nil && !p.Has(approval.ScopeGateway) {
				err = approval.Errorf(approval.KindForbidden, approval.CodeMissingScope, "the key lacks the gateway scope")
			}
			return p, err
		},
		Recorder:        &gateway.StoreRecorder{Store: store, Logger: log},
		Logger:          log.With("component", "gateway"),
		ObserveUpstream: meters.Upstream,
		Traced:          traced,
	}
	// On PostgreSQL one run is locked across every instance.
	if l, ok := store.(interface {
		TryLock(ctx context.Context, key string) (func(), bool, error)
	}); ok {
		d.Locker = gateway.KeyLocker(l.TryLock)
	}
	if cfg.Gateway.Approval == gateway.ApprovalPublish {
		step := &gateway.Step{Engine: eng, PolicyName: cfg.GatewayPolicy, ServiceRule: cfg.GatewayServiceRule}
		// A service rule's policy is mandated: a different policy name would
		// make every publication request fail (422), so say so now.
		if step.PolicyName != "" && step.ServiceRule != "" {
			rule, err := eng.CachedRule(context.Background(), step.ServiceRule)
			if err == nil && rule.Policy != "" && rule.Policy != step.PolicyName {
				return nil, fmt.Errorf("gateway: APPROVALD_GATEWAY_POLICY is %q but the service rule %q (APPROVALD_GATEWAY_SERVICE_RULE) mandates the policy %q; set one of them only", step.PolicyName, step.ServiceRule, rule.Policy)
			}
		}
		d.Approval = step
	}
	gw, err := gateway.New(cfg.Gateway, d)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	log.Info("CR8TOR gateway", "config", cfg.Gateway)
	return gw, nil
}
