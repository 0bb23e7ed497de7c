package api

import (
	"strings"
	"testing"
)

func TestCheckKey(t *testing.T) {
	for _, bad := range []string{"", "a b", "k\x00", "é", strings.Repeat("k", MaxKeyLen+1)} {
		if CheckKey(bad) == nil {
			t.Errorf("CheckKey(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"k", "AbC-_.:~123", strings.Repeat("k", MaxKeyLen)} {
		if err := CheckKey(ok); err != nil {
			t.Errorf("CheckKey(%q): %v", ok, err)
		}
	}
}
