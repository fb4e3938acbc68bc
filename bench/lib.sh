#!/usr/bin/env bash
# lib.sh - pieces shared by the benchmark scripts; sourced, does nothing by itself.

# build_sqlink builds $OUT/sqlink (and $OUT/lagsample) from commit
# $SQLINK_REV (default HEAD) exported with git archive, so uncommitted work of
# others in a shared tree neither breaks nor skews a run; SQLINK_REV=worktree
# builds the working tree. bench/lagsample always comes from the working
# tree. Sets SQREV to what was built.
SQLINK_REV=${SQLINK_REV:-HEAD}

build_sqlink() {
  if [ "$SQLINK_REV" = worktree ]; then
    SQREV="worktree($(git rev-parse --short HEAD)+changes)"
    go build -o "$OUT/sqlink" ./cmd/sqlink && go build -o "$OUT/lagsample" ./bench/lagsample
    return
  fi
  SQREV=$(git rev-parse --short "$SQLINK_REV")
  rm -rf "$OUT/src"; mkdir -p "$OUT/src"
  git archive "$SQLINK_REV" | tar -x -C "$OUT/src"
  rm -rf "$OUT/src/bench/lagsample"; cp -r bench/lagsample "$OUT/src/bench/"
  (cd "$OUT/src" && go build -o "$OUT/sqlink" ./cmd/sqlink && go build -o "$OUT/lagsample" ./bench/lagsample)
  rm -rf "$OUT/src"
}
