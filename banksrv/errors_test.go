package banksrv

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/ledger"
)

func TestErrorResponse(t *testing.T) {
	secret := errors.New("open /srv/bank.db: disk I/O error at sector 42")
	_, amountErr := ledger.ParseAmount("1e3")
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("apply: %w", ledger.ErrInsufficientFunds), http.StatusConflict,
			api.CodeInsufficientFunds},
		{fmt.Errorf("apply: %w", ledger.ErrKeyConflict), http.StatusUnprocessableEntity,
			api.CodeKeyConflict},
		{amountErr, http.StatusBadRequest, api.CodeInvalidAmount},
		{fmt.Errorf("balance: %w", secret), http.StatusInternalServerError, api.CodeInternal},
		{publicErrorf(http.StatusBadRequest, api.CodeBadRequest, "x"), 400, api.CodeBadRequest},
	}
	for _, tt := range tests {
		status, body := errorResponse(tt.err)
		if status != tt.status || body.Code != tt.code {
			t.Errorf("errorResponse(%v) = %d %s, want %d %s", tt.err, status, body.Code,
				tt.status, tt.code)
		}
		if strings.Contains(body.Message, "sector") || strings.Contains(body.Message, "apply") {
			t.Errorf("errorResponse(%v) leaks internal text: %q", tt.err, body.Message)
		}
	}
}

func BenchmarkErrorResponse(b *testing.B) {
	err := fmt.Errorf("apply: %w", ledger.ErrInsufficientFunds)
	for b.Loop() {
		errorResponse(err)
	}
}
