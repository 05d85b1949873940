package celrule

import (
	"errors"
	"fmt"

	"approvald/approval"
)

// CheckPolicy adds to v a field error for every expression of pol that is
// longer than approval.MaxExpressionLen or does not compile: field +
// ".rules[i].auto_approve_if", field + ".stages[j].rules[i].auto_reject_if",
// with the message "line L, column C: …".
func CheckPolicy(v *approval.Validation, field string, pol approval.Policy) {
	checkRules(v, field+".rules", pol.Rules)
	for j, s := range pol.Stages {
		checkRules(v, fmt.Sprintf("%s.stages[%d].rules", field, j), s.Rules)
	}
}

func checkRules(v *approval.Validation, field string, rules []approval.Rule) {
	for i, r := range rules {
		p := fmt.Sprintf("%s[%d]", field, i)
		checkExpr(v, p+".auto_approve_if", r.AutoApproveIf)
		checkExpr(v, p+".auto_reject_if", r.AutoRejectIf)
	}
}

// CheckMatch adds to v a field error "match" when expr, a stored policy's
// match expression, is too long or does not compile.
func CheckMatch(v *approval.Validation, expr string) {
	checkExpr(v, "match", expr)
}

// checkExpr checks one expression; "" is no expression.
func checkExpr(v *approval.Validation, field, expr string) {
	if expr == "" {
		return
	}
	if len(expr) > approval.MaxExpressionLen {
		v.Add(field, "must be at most %d bytes", approval.MaxExpressionLen)
		return
	}
	if _, err := Compile(expr); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			v.Add(field, "%s", ce.Error())
			return
		}
		v.Add(field, "cannot be compiled")
	}
}
