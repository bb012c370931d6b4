#!/usr/bin/env bash
# Debian packages the tests and the quick start use, by the part of the platform that needs them;
# installs only what is missing (idempotent; `apt-get update` first). Without root (or passwordless
# sudo) or apt, prints one line per part that stays missing and exits 0, so that `npm start` and
# `npm test` go on with what is there (the suites needing a missing part fail naming it).
# Usage: install-system-packages.sh [--check]   (--check: report only, install nothing)
set -uo pipefail

# part name | packages
PARTS=(
  "control plane (NATS, when none is running)|nats-server"
  "compose file validation (docker-compose v1)|docker-compose"
  # Tesseract with English, Hindi, Sanskrit, Japanese and the Devanagari script model; the OCR tests render
  # their images with ImageMagick's pango coder (Devanagari conjuncts) and Noto fonts
  "OCR runtime (maas ocr-engine) and its tests|tesseract-ocr tesseract-ocr-eng tesseract-ocr-hin tesseract-ocr-san tesseract-ocr-script-deva tesseract-ocr-jpn imagemagick libmagickcore-6.q16-6-extra fonts-noto-core fonts-noto-cjk"
  # pocketsphinx recogniser, sox to resample (mp3 through libsox-fmt-mp3); espeak-ng voices the tests
  "speech runtime (maas speech-engine) and its tests|pocketsphinx pocketsphinx-en-us sox libsox-fmt-mp3 espeak-ng"
  "Slurm capacity provider (sbatch/squeue/scancel, munge)|slurm-wlm munge"
  # SimpleSAMLphp misses php-xml without it; openssl makes the IdP's and tests' certificates
  "SAML sign-in (SimpleSAMLphp development IdP)|simplesamlphp php-cli php-xml php-mbstring openssl"
  "browser tests (Chromium)|chromium"
  "metrics (Prometheus and promtool: the shipped scrape config and dashboard queries are tested against them)|prometheus"
)

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "install-system-packages.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for part in "${PARTS[@]}"; do
  for p in ${part#*|}; do installed "$p" || missing+=("$p"); done
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

report_missing() {
  local reason=$1
  for part in "${PARTS[@]}"; do
    local lacking=()
    for p in ${part#*|}; do installed "$p" || lacking+=("$p"); done
    [ ${#lacking[@]} -gt 0 ] && echo "missing: ${part%%|*} — Debian packages ${lacking[*]} ($reason)"
  done
  return 0
}

if [ "$check_only" -eq 1 ]; then report_missing "install: sudo bash scripts/install-system-packages.sh"; exit 0; fi
if ! command -v apt-get >/dev/null; then report_missing "no apt-get here: install them with this system's package manager"; exit 0; fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  report_missing "not root: sudo bash scripts/install-system-packages.sh"; exit 0
fi

echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq || echo "apt-get update failed; trying the install with the package lists there are"
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/maas-apt-install.log 2>&1; then
  tail -n 5 /tmp/maas-apt-install.log
  report_missing "apt-get install failed, see /tmp/maas-apt-install.log"
  exit 0
fi
echo "system packages: installed ${#missing[@]}"
