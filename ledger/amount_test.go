package ledger

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestParseAmount(t *testing.T) {
	ok := map[string]Amount{
		"100": 10000, "12.50": 1250, "12.5": 1250, "0.01": 1, "0.5": 50,
		"1000000000": MaxAmount, "999999999.99": MaxAmount - 1,
	}
	for in, want := range ok {
		got, err := ParseAmount(in)
		if err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestParseAmountRefuses(t *testing.T) {
	for _, in := range []string{
		"", "1e3", "-5", "+5", "0", "0.00", "5,00", " 5", "5 ", "12.345", "1.", ".5",
		"1000000000.01", "99999999999", "007", "0x10", "NaN", "Inf", "1_000", "１２",
		"9223372036854775807", "12.5.0", "1,000.00",
	} {
		a, err := ParseAmount(in)
		if err == nil {
			t.Errorf("ParseAmount(%q) = %d, want an error", in, a)
			continue
		}
		if !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("ParseAmount(%q): %v does not wrap ErrInvalidAmount", in, err)
		}
	}
}

func TestAmountString(t *testing.T) {
	for a, want := range map[Amount]string{0: "0.00", 1: "0.01", 1250: "12.50", -305: "-3.05",
		MaxAmount: "1000000000.00", -MaxAmount: "-1000000000.00", 100: "1.00", -1: "-0.01",
		-10: "-0.10", math.MaxInt64: "92233720368547758.07",
		math.MinInt64: "-92233720368547758.08"} {
		if got := a.String(); got != want {
			t.Errorf("Amount(%d).String() = %q, want %q", int64(a), got, want)
		}
	}
	for a := Amount(-100_000); a <= 100_000; a += 7 {
		u := uint64(a)
		sign := ""
		if a < 0 {
			sign, u = "-", -u
		}
		if want := fmt.Sprintf("%s%d.%02d", sign, u/100, u%100); a.String() != want {
			t.Fatalf("Amount(%d).String() = %q, want %q", int64(a), a.String(), want)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"1", "12.50", "0.01", "1e3", "-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		if err != nil {
			return
		}
		if a <= 0 || a > MaxAmount {
			t.Fatalf("ParseAmount(%q) = %d out of range", s, a)
		}
		back, err := ParseAmount(a.String())
		if err != nil || back != a {
			t.Fatalf("round trip %q -> %s -> %d, %v", s, a, back, err)
		}
	})
}
