#!/usr/bin/env bash
# The browser tests drive Debian's chromium with Playwright (Playwright's own browser
# download needs the internet; Debian's package comes from the distribution's mirror).
# Installs chromium when it is missing, a Korean font (Nanum) so that the Korean
# pages and their screenshots show Hangul rather than empty boxes, and poppler-utils, with
# which the tests read the PDF report as readers do (pdftotext, pdffonts, pdftoppm).
# Exits 0 when chromium is there afterwards; when it
# cannot be installed, fails under CI and only warns locally (the browser tests then skip
# with that reason).
set -uo pipefail

CHROMIUM=${EPITRACE_CHROMIUM:-/usr/bin/chromium}
KOREAN_FONT=/usr/share/fonts/truetype/nanum
if [ -x "$CHROMIUM" ] && [ -d "$KOREAN_FONT" ] && command -v pdftotext >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: installing Debian's chromium, fonts-nanum and poppler-utils for the" \
    "browser and PDF tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium fonts-nanum poppler-utils >/dev/null
fi

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ -n "${CI:-}" ]; then
  echo "install-browser: could not install chromium ($CHROMIUM); the browser tests need it" >&2
  exit 1
fi
echo "install-browser: chromium is missing and could not be installed (needs root and" \
  "apt-get); the browser tests will be skipped" >&2
exit 0
