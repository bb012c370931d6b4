#!/usr/bin/env bash
# Debian packages the tests and the quick start use; installs only what is missing (idempotent).
# Needs root (or passwordless sudo); without it, prints what is missing and exits 0 so that
# `npm start` can still run with what is there.
set -euo pipefail

PACKAGES=(
  nats-server        # control plane, when no NATS is running
  docker-compose     # validates docker-compose.yml (v1 syntax) in the tests
  # OCR runtime (maas ocr-engine): Tesseract with English, Hindi, Sanskrit, Japanese and the Devanagari script model
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-hin tesseract-ocr-san tesseract-ocr-script-deva tesseract-ocr-jpn
  # OCR tests render their images: ImageMagick's pango coder shapes Devanagari conjuncts; Noto fonts for Devanagari and Japanese
  imagemagick libmagickcore-6.q16-6-extra fonts-noto-core fonts-noto-cjk
  # speech runtime (maas speech-engine): pocketsphinx recogniser, sox to resample (mp3 through libsox-fmt-mp3); espeak-ng voices the tests
  pocketsphinx pocketsphinx-en-us sox libsox-fmt-mp3 espeak-ng
  # Slurm capacity provider of vm-scaler (sbatch/squeue/scancel) and its tests: a single-node slurmctld/slurmd with munge auth
  slurm-wlm munge
  # identity tests: a real SAML IdP (SimpleSAMLphp misses php-xml without it), a browser, test certificates
  simplesamlphp php-cli php-xml php-mbstring chromium openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${PACKAGES[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    echo "system packages missing: ${missing[*]} (run as root to install them)"; exit 0
  fi
else
  SUDO=()
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
