package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"approvald/approval"
	"approvald/delivery"
	"approvald/engine"
	"approvald/ghapp"
)

// newGitHubApp returns the GitHub App of cfg.GitHub on eng, its service
// rule ensured (created when missing; a rule of that name of another
// format stops the start), or nil when the App is off (no App id). Its
// calls to GitHub go through the webhook client, which honours
// --allow-private-targets; the comments it leaves on GitHub link the
// request's page under the public URL.
func newGitHubApp(ctx context.Context, cfg config, eng *engine.Engine, reg prometheus.Registerer, tracing bool, log *slog.Logger) (*ghapp.App, error) {
	if cfg.GitHub.AppID == 0 {
		return nil, nil
	}
	app, err := ghapp.New(ghapp.Config{
		AppID:         cfg.GitHub.AppID,
		PrivateKey:    []byte(cfg.GitHub.PrivateKey),
		WebhookSecret: []byte(cfg.GitHub.WebhookSecret),
		APIURL:        cfg.GitHub.APIURL,
		ServiceRule:   cfg.GitHub.ServiceRule,
		PublicURL:     cfg.Notify.PublicURL,
		Client:        webhookClient(cfg.AllowPrivate, tracing),
		Logger:        log,
		Registerer:    reg,
	}, eng)
	if err != nil {
		return nil, fmt.Errorf("the GitHub App (APPROVALD_GITHUB_*): %w", err)
	}
	if err := app.EnsureRule(ctx); err != nil {
		return nil, fmt.Errorf("the GitHub App's service rule (--github-service-rule): %w", err)
	}
	log.Info("acting as a GitHub App for deployment protection rules", "app_id", cfg.GitHub.AppID, "api", cfg.GitHub.APIURL, "rule", cfg.GitHub.ServiceRule)
	return app, nil
}

// githubWebhook returns the handler of POST /v1/github/webhook: the
// App's, or nil (404) when it is off.
func githubWebhook(app *ghapp.App) func(http.ResponseWriter, *http.Request) error {
	if app == nil {
		return nil
	}
	return app.ServeWebhook
}

// senders returns the dispatcher's senders of the formats that are not
// webhooks: the GitHub App's, when it is on.
func senders(app *ghapp.App) map[approval.RuleFormat]delivery.Sender {
	if app == nil {
		return nil
	}
	return map[approval.RuleFormat]delivery.Sender{approval.FormatGitHub: app}
}
