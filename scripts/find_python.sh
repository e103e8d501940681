#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 found on this machine, or fails with a clear message.
# Plain python3 may be older (3.11 on the Cerdd's build machines), so pyenv's versions count too.
set -u
candidates=(python3.14 python3.13 python3.12)
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root 2>/dev/null)
  for dir in $(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -rV); do
    candidates+=("$dir/bin/python")
  done
fi
for dir in $(ls -d "$HOME"/.pyenv/versions/3.1[2-9]* 2>/dev/null | sort -rV); do
  candidates+=("$dir/bin/python")
done
candidates+=(python3)
for candidate in "${candidates[@]}"; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    echo "$path"
    exit 0
  fi
done
echo "Aucun Python >= 3.12 trouvé (essayé : ${candidates[*]}). Installez Python 3.12 ou plus récent." >&2
exit 1
