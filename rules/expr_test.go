package rules

import "testing"

func TestCompileExprDynamic(t *testing.T) {
	env := map[string]any{"body": map[string]any{}}
	tests := []struct {
		src     string
		kind    ResultKind
		data    map[string]any
		want    any
		wantErr bool
	}{
		{`body.user.id`, ResultAny, map[string]any{"body": map[string]any{"user": map[string]any{"id": "u1"}}}, "u1", false},
		{`body.user.id`, ResultAny, map[string]any{"body": map[string]any{}}, nil, true},
		{`body?.user?.id ?? "none"`, ResultString, map[string]any{"body": map[string]any{}}, "none", false},
		{`len(body.items) > 0`, ResultBool, map[string]any{"body": map[string]any{"items": []any{1}}}, true, false},
		{`lower(body.email)`, ResultString, map[string]any{"body": map[string]any{"email": "A@B.C"}}, "a@b.c", false},
	}
	for _, tt := range tests {
		p, err := CompileExpr(tt.src, env, tt.kind)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		got, err := p.Eval(tt.data)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.src, err)
			continue
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("%s = %v, want %v", tt.src, got, tt.want)
		}
	}
	if _, err := CompileExpr(`1 +`, env, ResultAny); err == nil {
		t.Error("syntax error not reported")
	}
}
