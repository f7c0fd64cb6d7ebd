# Puts a Node.js 24 on PATH when the machine's own node is older.
# Source it from the repository root (". scripts/node24.sh"; npm scripts and
# .ci/run do): it installs the registry's node@24 package into .tools/ once,
# then only prepends its bin folder to PATH. POSIX sh, so npm's sh can run it.
_appgrant_root="${APPGRANT_ROOT:-$(pwd)}"
_appgrant_node_version="24.21.0"
_appgrant_node_prefix="$_appgrant_root/.tools/node-$_appgrant_node_version"
_appgrant_node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$_appgrant_node_major" -lt 24 ]; then
  if [ ! -f "$_appgrant_root/package.json" ]; then
    echo "scripts/node24.sh: source it from the appgrant repository root" >&2
    return 1 2>/dev/null || exit 1
  fi
  if [ ! -x "$_appgrant_node_prefix/node_modules/node/bin/node" ]; then
    echo "installing Node.js $_appgrant_node_version into $_appgrant_node_prefix" >&2
    mkdir -p "$_appgrant_node_prefix"
    npm install --prefix "$_appgrant_node_prefix" --no-save --no-package-lock \
      "node@$_appgrant_node_version" >&2 || { return 1 2>/dev/null || exit 1; }
  fi
  PATH="$_appgrant_node_prefix/node_modules/node/bin:$PATH"
  export PATH
fi
unset _appgrant_root _appgrant_node_version _appgrant_node_prefix _appgrant_node_major
