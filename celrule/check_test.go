package celrule

import (
	"strings"
	"testing"

	"approvald/approval"
)

func fieldErrors(t *testing.T, v *approval.Validation) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := v.Err()
	if err == nil {
		return got
	}
	for _, f := range approval.AsError(err).Fields {
		got[f.Field] = f.Message
	}
	return got
}

func TestCheckPolicy_NamesEveryBadExpression(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("true && ", approval.MaxExpressionLen/8) + "true"
	pol := approval.Policy{
		Rules: []approval.Rule{
			{Name: "good", AutoApproveIf: `"oncall" in groups`, AutoRejectIf: `payload.amount > 10000`},
			{Name: "bad", AutoApproveIf: `amount < 1`, AutoRejectIf: `size(items)`},
		},
		Stages: []approval.Stage{
			{Name: "one", Rules: []approval.Rule{{Name: "r"}}},
			{Name: "two", Rules: []approval.Rule{{Name: "r"}, {Name: "s", AutoRejectIf: "requester ==", AutoApproveIf: long}}},
		},
	}
	var v approval.Validation
	CheckPolicy(&v, "policy", pol)
	got := fieldErrors(t, &v)
	want := map[string]string{
		"policy.rules[1].auto_approve_if":           "line 1, column 1: undeclared reference to 'amount'",
		"policy.rules[1].auto_reject_if":            "line 1, column 1: the expression gives int, not bool",
		"policy.stages[1].rules[1].auto_reject_if":  "line 1, column 13: Syntax error",
		"policy.stages[1].rules[1].auto_approve_if": "must be at most 4096 bytes",
	}
	if len(got) != len(want) {
		t.Errorf("field errors %v, want %d of them", got, len(want))
	}
	for f, msg := range want {
		if !strings.HasPrefix(got[f], msg) {
			t.Errorf("%s: %q, want it to start with %q", f, got[f], msg)
		}
	}
}

func TestCheckPolicy_AcceptsGoodAndEmptyExpressions(t *testing.T) {
	t.Parallel()
	pol := approval.Policy{Rules: []approval.Rule{
		{Name: "a"},
		{Name: "b", AutoApproveIf: `items.all(i, i.digest.startsWith("sha256:"))`},
		{Name: "c", AutoApproveIf: `payload.ok`}, // dyn: checked when evaluated
	}}
	var v approval.Validation
	CheckPolicy(&v, "policy", pol)
	if err := v.Err(); err != nil {
		t.Errorf("CheckPolicy: %v", err)
	}
}

func TestCheckMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr string
		want string // "" for valid
	}{
		{``, ""},
		{`service_rule == "" && "finance" in groups`, ""},
		{`service_rule = "x"`, "line 1, column 14: Syntax error"},
		{`payload.amount + 1`, "line 1, column 1: the expression gives int, not bool"},
		{strings.Repeat(" ", approval.MaxExpressionLen) + "true", "must be at most 4096 bytes"},
	}
	for _, c := range cases {
		var v approval.Validation
		CheckMatch(&v, c.expr)
		got := fieldErrors(t, &v)
		if c.want == "" {
			if len(got) != 0 {
				t.Errorf("CheckMatch(%.40q) = %v, want no error", c.expr, got)
			}
			continue
		}
		if len(got) != 1 || !strings.HasPrefix(got["match"], c.want) {
			t.Errorf("CheckMatch(%.40q) = %v, want match: %q…", c.expr, got, c.want)
		}
	}
}
