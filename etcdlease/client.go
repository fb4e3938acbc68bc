package etcdlease

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/sqlink/sqlink"
)

// Config says how to reach the etcd cluster.
type Config struct {
	// Endpoints are the members' client URLs (http:// or https://).
	Endpoints []string
	// TLS, if set, is the client TLS configuration (CA, client certificate).
	TLS    *tls.Config
	Logger *slog.Logger
}

// Client is this instance's connection to etcd, shared by its links'
// Keepers.
type Client struct {
	cli *clientv3.Client
	log *slog.Logger
}

// ParseEndpoints splits a comma-separated list of client URLs and checks
// each.
func ParseEndpoints(s string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, sqlink.Errorf(sqlink.EINVALID, "give client URLs such as http://127.0.0.1:2379, separated by commas",
				"etcd endpoint %q is not an http:// or https:// URL", e)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, sqlink.Errorf(sqlink.EINVALID, "give client URLs such as http://127.0.0.1:2379, separated by commas", "no etcd endpoint given")
	}
	return out, nil
}

// TLSFromFiles builds a client TLS configuration: caFile verifies the
// members' certificates (the system pool when empty), certFile and keyFile
// (both or neither) authenticate this client.
func TLSFromFiles(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, sqlink.Errorf(sqlink.EINVALID, "give a readable PEM file of the CA that signed the etcd members' certificates", "etcd CA file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, sqlink.Errorf(sqlink.EINVALID, "give a PEM file with at least one CERTIFICATE block", "etcd CA file %s holds no certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, sqlink.Errorf(sqlink.EINVALID, "give both --etcd-cert and --etcd-key, or neither", "etcd client certificate and key must come together")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, sqlink.Errorf(sqlink.EINVALID, "give the PEM certificate and its private key", "etcd client certificate: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// New connects to etcd. It does not wait for the cluster: an unreachable
// cluster shows as unhealthy, and every operation retries.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, sqlink.Errorf(sqlink.EINVALID, "give --etcd-endpoints", "no etcd endpoint given")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		TLS:                  cfg.TLS,
		Logger:               zap.NewNop(),
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		AutoSyncInterval:     0,
		RejectOldCluster:     false,
		PermitWithoutStream:  true,
		// gRPC's default reconnect back-off grows to 120 s: after an etcd
		// outage of a few seconds the client would wait longer than a
		// short lease's TTL to reconnect, and the primary's lease would
		// expire with etcd back and healthy. Retry at most every 500 ms.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		return nil, sqlink.Errorf(sqlink.EUNAVAILABLE, "check --etcd-endpoints and the TLS files", "etcd client: %v", err)
	}
	return &Client{cli: cli, log: cfg.Logger}, nil
}

// Close ends the connection (the Keepers must be closed first).
func (c *Client) Close() error { return c.cli.Close() }

// Endpoints returns the configured endpoints.
func (c *Client) Endpoints() []string { return c.cli.Endpoints() }

// Check reports whether a linearizable read succeeds within timeout: the
// instance reaches a quorum of the cluster.
func (c *Client) Check(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := c.cli.Get(clientv3.WithRequireLeader(ctx), "/sqlink/health", clientv3.WithCountOnly()); err != nil {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "check that a majority of the etcd members run and that --etcd-endpoints reach them",
			"etcd at %s: %v", strings.Join(c.cli.Endpoints(), ","), err)
	}
	return nil
}

// keyPrefix is where a link's keys live.
func keyPrefix(linkID string) string { return fmt.Sprintf("/sqlink/links/%s/", linkID) }
