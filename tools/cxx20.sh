#!/usr/bin/env bash
# C++ compiler wrapper used only while building mmcv's compiled ops.
# mmcv 2.1.0's setup.py forces -std=c++14/17, but torch 2.14's headers need C++20:
# drop every -std= flag and compile as gnu++20 with the real compiler.
args=()
for a in "$@"; do
  case "$a" in
    -std=*) ;;
    *) args+=("$a") ;;
  esac
done
exec "${SARGEO_REAL_CXX:-g++}" -std=gnu++20 "${args[@]}"
