package etcdlease

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sqlink/sqlink"
)

// Leader is the value of a link's leader key: the holder's instance name
// (for people) and ID (what the link compares), and its epoch.
type Leader struct {
	Holder   string       `json:"holder"`
	HolderID string       `json:"holder_id"`
	Epoch    sqlink.Epoch `json:"epoch"`
}

// snapshot is one linearizable read of a link's two keys.
type snapshot struct {
	rev       int64 // the read's revision
	leader    *Leader
	leaderRev int64 // mod revision of the leader key, 0 when absent
	leaseID   clientv3.LeaseID
	epoch     sqlink.Epoch // the epoch key's value, 0 when absent
	epochRev  int64
}

// newest returns the highest epoch the snapshot shows.
func (s snapshot) newest() sqlink.Epoch {
	e := s.epoch
	if s.leader != nil && s.leader.Epoch > e {
		e = s.leader.Epoch
	}
	return e
}

type keys struct {
	prefix, leader, epoch string
}

func linkKeys(linkID string) keys {
	p := keyPrefix(linkID)
	return keys{prefix: p, leader: p + "leader", epoch: p + "epoch"}
}

// read takes a linearizable snapshot of the link's keys.
func (k keys) read(ctx context.Context, kv clientv3.KV) (snapshot, error) {
	resp, err := kv.Get(clientv3.WithRequireLeader(ctx), k.prefix, clientv3.WithPrefix())
	if err != nil {
		return snapshot{}, err
	}
	s := snapshot{rev: resp.Header.Revision}
	for _, kv := range resp.Kvs {
		switch string(kv.Key) {
		case k.leader:
			var l Leader
			if err := json.Unmarshal(kv.Value, &l); err != nil {
				return snapshot{}, fmt.Errorf("etcd key %s: %w", k.leader, err)
			}
			s.leader, s.leaderRev, s.leaseID = &l, kv.ModRevision, clientv3.LeaseID(kv.Lease)
		case k.epoch:
			n, err := strconv.ParseUint(string(kv.Value), 10, 64)
			if err != nil {
				return snapshot{}, fmt.Errorf("etcd key %s: %w", k.epoch, err)
			}
			s.epoch, s.epochRev = sqlink.Epoch(n), kv.ModRevision
		}
	}
	return s, nil
}

// put writes {holder, epoch} under lease id and the epoch key, if neither
// key changed since s was read.
func (k keys) put(ctx context.Context, kv clientv3.KV, s snapshot, holder Leader, id clientv3.LeaseID) (bool, error) {
	epoch := holder.Epoch
	v, err := json.Marshal(holder)
	if err != nil {
		return false, err
	}
	resp, err := kv.Txn(clientv3.WithRequireLeader(ctx)).If(
		clientv3.Compare(clientv3.ModRevision(k.leader), "=", s.leaderRev),
		clientv3.Compare(clientv3.ModRevision(k.epoch), "=", s.epochRev),
	).Then(
		clientv3.OpPut(k.leader, string(v), clientv3.WithLease(id)),
		clientv3.OpPut(k.epoch, strconv.FormatUint(uint64(epoch), 10)),
	).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// remove deletes the leader key if it has not changed since s was read.
func (k keys) remove(ctx context.Context, kv clientv3.KV, s snapshot) (bool, error) {
	resp, err := kv.Txn(clientv3.WithRequireLeader(ctx)).If(
		clientv3.Compare(clientv3.ModRevision(k.leader), "=", s.leaderRev),
	).Then(clientv3.OpDelete(k.leader)).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}
