package crm

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/agents/builtin"
	"github.com/duet-ha/duet/cluster/cib/crmsh"
)

// metadataFunc returns how verify reads agents' meta-data on this node (the same registry clusterd uses);
// an agent this host cannot describe is reported by verify, a host without the built-in agents skips the
// parameter checks.
func metadataFunc(ctx context.Context) crmsh.MetadataFunc {
	opts, err := builtin.Options(builtin.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil
	}
	reg := agents.NewRegistry(opts)
	context.AfterFunc(ctx, func() { _ = reg.Close() })
	return func(agent string) (*agents.Metadata, error) {
		if len(agent) > 8 && agent[:8] == "stonith:" {
			return nil, nil // fence devices are checked by clusterd when they start
		}
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		md, err := reg.Metadata(mctx, agent)
		if errors.Is(err, agents.ErrUnknownAgent) {
			return nil, err
		}
		if err != nil {
			return nil, nil
		}
		return md, nil
	}
}
