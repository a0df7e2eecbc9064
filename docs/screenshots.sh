#!/usr/bin/env bash
# Build the documentation site and screenshot its key pages in headless Chromium, to check by
# eye what the HTML-level test (tests/test_docs_site.py) cannot: layout, clipping, pictures.
#
#   docs/screenshots.sh [OUTDIR]        (default: ./screenshots; the site goes to OUTDIR/site)
#
# Needs the docs extra (pip install -e '.[docs]') and Chromium (Debian: apt-get install
# chromium; CHROMIUM=/path/to/chrome to use another). Not part of CI, which cannot install a
# browser. The site is served by `python -m http.server` on a free local port, as a user
# would see it (search and relative links work as on a web server), and the server is stopped
# on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$(realpath -m "${1:-screenshots}")"
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
if [ -z "$CHROMIUM" ]; then
  echo "docs/screenshots.sh: no Chromium found (apt-get install chromium, or set CHROMIUM=)" >&2
  exit 1
fi
mkdir -p "$OUT"
NO_MKDOCS_2_WARNING=1 python -m mkdocs build --strict --quiet -d "$OUT/site"

PORT="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python -m http.server "$PORT" --bind 127.0.0.1 --directory "$OUT/site" >/dev/null 2>&1 &
SERVER=$!
PROFILE="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$PROFILE"' EXIT
for _ in $(seq 50); do   # wait until the server answers
  python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/')" 2>/dev/null && break
  sleep 0.1
done

# name  page (relative to the site root)  window width,height
PAGES=(
  "reference           reference/                      1400,4000"
  "explorer            explorer/                       1400,2000"
  "explorer-fp64       explorer/fp64/                  1400,1400"
  "explorer-mxfp4      explorer/mxfp4/                 1400,2400"
  "explorer-nvfp4      explorer/nvfp4/                 1400,2400"
  "mx                  mx/                             1400,2400"
  "nvfp4               nvfp4/                          1400,2400"
  "gemm                gemm/                           1400,3000"
  "swizzle             layouts/swizzle/                1400,2400"
  "explorer-narrow     explorer/                       800,1200"
)
for row in "${PAGES[@]}"; do
  read -r name page size <<<"$row"
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$PROFILE" --window-size="$size" --virtual-time-budget=3000 \
    --screenshot="$OUT/$name.png" "http://127.0.0.1:$PORT/$page" >/dev/null 2>&1
  echo "$OUT/$name.png  <- $page"
done
