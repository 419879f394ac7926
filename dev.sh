#!/usr/bin/env bash
# Tally's developer entry point (see README):
#   ./dev.sh demo [ARGS...]   install what is missing, build, run the demo (console + storefront)
#   ./dev.sh test             install what is missing, build, run every test (Rust on SQLite and
#                             PostgreSQL, schemathesis against the OpenAPI document, Playwright
#                             in headless chromium)
set -euo pipefail
cd "$(dirname "$0")"

# One cargo target dir shared by every checkout: fresh clones (CI) reuse compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tally-target}"

# PostgreSQL for the tests: started if stopped, with a `tally` role that may create databases.
start_postgres() {
  if command -v pg_lsclusters >/dev/null && pg_lsclusters -h | awk '{print $4}' | grep -q down; then
    pg_lsclusters -h | awk '$4 == "down" { print $1, $2 }' | while read -r version cluster; do
      pg_ctlcluster "$version" "$cluster" start
    done
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
  done
  pg_isready -h 127.0.0.1 -p 5432
  local psql
  if [ "$(id -u)" -eq 0 ]; then psql=(su postgres -c "psql -v ON_ERROR_STOP=1 -qAt -f -"); else psql=(sudo -u postgres psql -v ON_ERROR_STOP=1 -qAt -f -); fi
  "${psql[@]}" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tally') THEN
    CREATE ROLE tally LOGIN CREATEDB PASSWORD 'tally';
  END IF;
END $$;
SQL
  # Each test makes its own database (and SQLite file): clear what earlier runs left, or the
  # disk of a machine that runs the tests again and again fills up.
  "${psql[@]}" <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I', datname) FROM pg_database
WHERE datname LIKE 'tally\_test\_%' OR datname LIKE 'tally\_bench\_%' OR datname LIKE 'tally\_pgbench\_%' \gexec
SQL
  rm -rf "${TMPDIR:-/tmp}/tally-tests"
  export TALLY_TEST_POSTGRES_URL="${TALLY_TEST_POSTGRES_URL:-postgres://tally:tally@127.0.0.1:5432/postgres}"
}

case "${1:-}" in
  demo)
    shift
    scripts/bootstrap
    # A local mail catcher with a web inbox (maildev, from npm): the demo's emails land there.
    if [ -z "${TALLY_SMTP_URL:-}" ] && [ -x node_modules/.bin/maildev ]; then
      node_modules/.bin/maildev --ip 127.0.0.1 --smtp 1025 --web 1080 --silent &
      maildev_pid=$!
      trap 'kill "$maildev_pid" 2>/dev/null' EXIT
      export TALLY_SMTP_URL="smtp://127.0.0.1:1025" TALLY_DEMO_MAIL_INBOX="http://127.0.0.1:1080"
    fi
    cargo xtask demo "$@"
    ;;
  test)
    scripts/bootstrap
    start_postgres
    cargo xtask build
    cargo test --workspace
    scripts/schemathesis
    (cd end2end && npx playwright test)
    # The pages whose work is the database's (imports) again on PostgreSQL.
    e2e_db="tally_test_e2e_$$"
    PGPASSWORD=tally psql -h 127.0.0.1 -U tally -d postgres -v ON_ERROR_STOP=1 -qAt -c "CREATE DATABASE $e2e_db"
    # PostgreSQL servers seal secrets with TALLY_SECRET_KEY: a throwaway one for this database.
    (cd end2end && TALLY_E2E_DATABASE_URL="postgres://tally:tally@127.0.0.1:5432/$e2e_db" \
      TALLY_SECRET_KEY="${TALLY_SECRET_KEY:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n")}" \
      npx playwright test tests/imports.spec.ts --output test-results-postgres)
    ;;
  *)
    echo "usage: ./dev.sh demo [tally demo args...] | ./dev.sh test" >&2
    exit 2
    ;;
esac
