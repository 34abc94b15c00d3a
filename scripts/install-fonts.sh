#!/usr/bin/env bash
# The hub's printable case report (report.pdf) embeds a Korean font that also holds Latin
# letters: NanumGothic, from Debian's fonts-nanum (SIL Open Font License 1.1; docs/web.md).
# epitrace looks for it at /usr/share/fonts/truetype/nanum/NanumGothic.ttf
# (epitrace.hub.exchange.pdf_font), or where EPITRACE_PDF_FONT says. Installs the package
# when the font is missing and apt-get is there (as root); otherwise warns: the PDF is then
# set in a font built into PDF readers, not embedded.
set -uo pipefail

FONT=${EPITRACE_PDF_FONT:-/usr/share/fonts/truetype/nanum/NanumGothic.ttf}
if [ -f "$FONT" ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-fonts: installing Debian's fonts-nanum for the PDF report" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq fonts-nanum >/dev/null
fi
if [ -f "$FONT" ]; then
  exit 0
fi
echo "install-fonts: $FONT is missing (install fonts-nanum, or set EPITRACE_PDF_FONT to a" \
  "TrueType font with Hangul and Latin letters); PDF reports will not embed their font" >&2
exit 0
