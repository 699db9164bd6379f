#!/bin/sh
set -eu
echo "$(basename "$0")" >>/runparts.log
