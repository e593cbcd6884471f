"""Per-frame identity codes E_i(t) (ReStyle W+) or mesh fits, stored in resumable shards."""
