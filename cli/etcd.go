package cli

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/etcdlease"
)

// etcdSettings are serve's settings of the etcd cluster that links with
// automatic failover keep their leases in.
type etcdSettings struct {
	EtcdEndpoints string
	EtcdCAFile    string
	EtcdCert      string
	EtcdKey       string
}

// etcdFileConfig is their part of the config file.
type etcdFileConfig struct {
	EtcdEndpoints string `yaml:"etcd-endpoints"`
	EtcdCAFile    string `yaml:"etcd-ca-file"`
	EtcdCert      string `yaml:"etcd-cert"`
	EtcdKey       string `yaml:"etcd-key"`
}

func (e *etcdSettings) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&e.EtcdEndpoints, "etcd-endpoints", "", "etcd client URLs, separated by commas, for links with automatic failover, e.g. https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379 (env SQLINK_ETCD_ENDPOINTS)")
	fs.StringVar(&e.EtcdCAFile, "etcd-ca-file", "", "PEM CA that signed the etcd members' certificates (env SQLINK_ETCD_CA_FILE)")
	fs.StringVar(&e.EtcdCert, "etcd-cert", "", "PEM client certificate for etcd (env SQLINK_ETCD_CERT)")
	fs.StringVar(&e.EtcdKey, "etcd-key", "", "PEM private key of --etcd-cert (env SQLINK_ETCD_KEY)")
}

// resolve fills the settings whose flag was not given from the
// environment, then from the config file.
func (e *etcdSettings) resolve(m *Main, fs *pflag.FlagSet, fc etcdFileConfig) {
	str := func(name string, dst *string, file string) {
		if fs.Lookup(name) == nil || fs.Changed(name) {
			return
		}
		if v := m.env(name); v != "" {
			*dst = v
		} else if file != "" {
			*dst = file
		}
	}
	str("etcd-endpoints", &e.EtcdEndpoints, fc.EtcdEndpoints)
	str("etcd-ca-file", &e.EtcdCAFile, fc.EtcdCAFile)
	str("etcd-cert", &e.EtcdCert, fc.EtcdCert)
	str("etcd-key", &e.EtcdKey, fc.EtcdKey)
}

// client connects to etcd when endpoints are set (nil otherwise). It does
// not wait for the cluster: an unreachable one shows in the links' status.
func (e *etcdSettings) client(m *Main) (*etcdlease.Client, error) {
	if e.EtcdEndpoints == "" {
		if e.EtcdCAFile != "" || e.EtcdCert != "" || e.EtcdKey != "" {
			return nil, sqlink.Errorf(sqlink.EINVALID, "add --etcd-endpoints URL[,URL...], or leave out the etcd TLS files",
				"--etcd-ca-file, --etcd-cert and --etcd-key need --etcd-endpoints")
		}
		return nil, nil
	}
	eps, err := etcdlease.ParseEndpoints(e.EtcdEndpoints)
	if err != nil {
		return nil, err
	}
	tc, err := etcdlease.TLSFromFiles(e.EtcdCAFile, e.EtcdCert, e.EtcdKey)
	if err != nil {
		return nil, err
	}
	return etcdlease.New(etcdlease.Config{Endpoints: eps, TLS: tc})
}

// printAutoFailover prints a link's automatic failover status, if any.
func printAutoFailover(w io.Writer, a *adminapi.AutoFailoverStatus) {
	if a == nil {
		return
	}
	holder := "none (no live lease)"
	if a.Holder != "" {
		holder = fmt.Sprintf("%s at epoch %d", a.Holder, a.Epoch)
		if a.Held {
			holder += " (this instance)"
		}
		holder += fmt.Sprintf(", expires in %.1fs unless renewed", a.ExpiresInSeconds)
	}
	fmt.Fprintf(w, "Auto failover:\tetcd lease, TTL %gs", a.LeaseTTLSeconds)
	if a.MaxDataLoss > 0 {
		fmt.Fprintf(w, ", max data loss %d transactions", a.MaxDataLoss)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Lease holder:\t%s\n", holder)
	etcd := "reachable (quorum)"
	if !a.EtcdHealthy {
		etcd = "UNREACHABLE"
		if a.EtcdError != "" {
			etcd += ": " + a.EtcdError
		}
	}
	fmt.Fprintf(w, "etcd:\t%s\n", etcd)
	if a.FenceInSeconds > 0 {
		fmt.Fprintf(w, "Writes fence in:\t%.1fs unless a renewal is confirmed\n", a.FenceInSeconds)
	}
	if a.Failsafe {
		fmt.Fprintf(w, "Failsafe:\tetcd unreachable from both instances; the primary keeps writes, its secondary holds every commit\n")
	}
	if a.Solo {
		fmt.Fprintf(w, "Solo:\tthe primary acknowledges commits without its secondary (it took a solo epoch in etcd)\n")
	}
	if a.Claiming {
		fmt.Fprintf(w, "Claiming:\tthis instance asked etcd for the link\n")
	}
	if a.Waiting != "" {
		fmt.Fprintf(w, "Waiting:\t%s\n", a.Waiting)
	}
	if la := a.LastAutomatic; la != nil {
		s := fmt.Sprintf("became primary at epoch %d", la.Epoch)
		if la.Reason != "" {
			s += ": " + la.Reason
		}
		if la.LostTransactions > 0 {
			s += fmt.Sprintf(" (%d transactions lost)", la.LostTransactions)
		}
		fmt.Fprintf(w, "Last automatic failover:\t%s\n", s)
	}
}
