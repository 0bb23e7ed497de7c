package ca

import (
	"context"
	"errors"
	"net/url"
	"testing"
)

func TestReadRevoked(t *testing.T) {
	info := newCA(t, KeyEC)
	got, err := ReadRevoked(info.Dir)
	if err != nil || len(got) != 0 {
		t.Fatalf("fresh CA: %v, %v", got, err)
	}

	a, err := Open(info.Dir, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	uri, _ := url.Parse("urn:banco:customer:alice")
	chain, err := a.Issue(context.Background(), IssueRequest{Kind: KindClient, Subject: "alice",
		SANs: []string{uri.String()}, CSR: csrFor(t, "alice", nil, nil, []*url.URL{uri})})
	if err != nil {
		t.Fatal(err)
	}
	serial := chain[0].SerialNumber.String()
	if err := a.Revoke(context.Background(), serial, 1, ""); err != nil {
		t.Fatal(err)
	}
	// The engine holds the database, as banco ca serve does.
	if _, err := ReadRevoked(info.Dir); !errors.Is(err, ErrLocked) {
		t.Errorf("while the CA is open: %v, want ErrLocked", err)
	}
	a.Close()

	got, err = ReadRevoked(info.Dir)
	if err != nil || !got[serial] || len(got) != 1 {
		t.Errorf("after revoking %s: %v, %v", serial, got, err)
	}
	// A reader does not keep the engine out.
	openCA(t, info.Dir)
}
