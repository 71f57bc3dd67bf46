#!/bin/sh
# Installs Groonga for the bench's groonga-mecab and groonga-bigram peers (Debian/Ubuntu):
# the `groonga` command and its MeCab tokenizer plugin. Safe to run again: it does nothing
# when both are already there. Needs root (or sudo). Without them the two peers are reported
# as skipped, not as failures.
set -eu

if command -v groonga >/dev/null 2>&1 && dpkg -s groonga-tokenizer-mecab >/dev/null 2>&1; then
    echo "groonga already installed: $(groonga --version | head -n 1)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
    groonga-bin groonga-tokenizer-mecab
groonga --version | head -n 1
