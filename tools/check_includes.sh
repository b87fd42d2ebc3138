#!/usr/bin/env bash
# No include circle between the folders of src/: the layers stay one above
# the other (docs/architecture.md). Each folder of src/ is a node, and so is
# each folder of src/backend/opencl/ (runtime, ops, tune) and the files
# directly in src/backend/opencl/ (as of any other backend). An edge is an
# #include of a header of another folder ("util/hash.h"), or a call of a
# function another folder defines, reached through a public header
# ("clinpaint/tune.h": cp_tune_apply). Prints each circle with the lines
# that make it. Run by ctest as include_circles.
#   tools/check_includes.sh [REPO_DIR]     (default: this repository)
# Exit 0: no circle; 1: a circle (listed).
set -uo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
[ -d "$root/src" ] && [ -d "$root/include/clinpaint" ] ||
    { echo "check_includes: no src/ and include/clinpaint/ in $root" >&2; exit 1; }
cd "$root" || exit 1

# The node of a path under src/: backend/<b>/<x> (runtime, ops, tune),
# backend/<b> for the files directly in a backend's folder, else the first
# folder.
node_awk='function node(p,   n, a) {
    sub(/^src\//, "", p)
    n = split(p, a, "/")
    if (n >= 4 && a[1] == "backend") return a[1] "/" a[2] "/" a[3]
    if (n == 3 && a[1] == "backend") return a[1] "/" a[2]
    return n >= 2 ? a[1] : "."
}'

# "def NAME NODE": functions defined at file level in src/ (not static).
defs=$(grep -rEn --include='*.c' '^[A-Za-z_][A-Za-z0-9_ *]*[ *]cp_[A-Za-z0-9_]+\(' src |
    grep -Ev '^[^:]+:[0-9]+:static |;[[:space:]]*$' |
    sed -E 's/^([^:]+):[0-9]+:.*[ *](cp_[A-Za-z0-9_]+)\(.*/\1 \2/' |
    awk "$node_awk"'{ print "def", $2, node($1) }')
# "ref FILE:LINE NODE NAME": the cp_ names each file of src/ uses, outside
# comments (a public header's functions are reached through these).
refs=$(find src -name '*.[ch]' | sort | while read -r f; do
    sed -E 's|//.*||; s|/\*.*\*/||g; s|^[[:space:]]*(/\*\|\*).*||' "$f" |
        grep -noE '\bcp_[A-Za-z0-9_]+[[:space:]]*\(' | sed -E "s|^([0-9]+):(cp_[A-Za-z0-9_]+).*|ref $f:\1 $f \2|"
done | awk "$node_awk"'{ print $1, $2, node($3), $4 }')
# "inc FILE:LINE NODE TARGET": quoted includes of the files of src/.
incs=$(find src -name '*.[ch]' | sort | while read -r f; do
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
        sed -E 's/^([0-9]+):[^"]*"([^"]*)".*/\1 \2/' |
        while read -r line inc; do
            if [ -f "src/$inc" ]; then echo "inc $f:$line $f src/$inc"
            elif [ -f "include/$inc" ]; then echo "inc $f:$line $f $inc"
            fi  # anything else: the file's own folder, generated or system files
        done
done | awk "$node_awk"'{ print $1, $2, node($3), $4 }')

printf '%s\n%s\n%s\n' "$defs" "$refs" "$incs" | awk "$node_awk"'
$1 == "def" { defined[$2] = defined[$2] " " $3; next }
$1 == "ref" { n_ref++; ref_where[n_ref] = $2; ref_from[n_ref] = $3; ref_name[n_ref] = $4; next }
$1 == "inc" { n_inc++; inc_where[n_inc] = $2; inc_from[n_inc] = $3; inc_what[n_inc] = $4; next }
function add_edge(a, b, where) {
    if (a == b || b == "") return
    if (!((a, b) in edge)) out[a] = out[a] " " b
    edge[a, b] = 1
    if (index(why[a, b], where) == 0) why[a, b] = why[a, b] " " where
    nodes[a]; nodes[b]
}
function dfs(start, v, path,   n, i, w, list) {
    n = split(out[v], list, " ")
    for (i = 1; i <= n; i++) {
        w = list[i]
        if (w == start) { report(path " " w); continue }
        if (w in seen) continue
        seen[w] = 1
        dfs(start, w, path " " w)
    }
}
function report(p,   n, a, i, j, t, key, sorted) {
    n = split(p, a, " ")
    for (i = 1; i < n; i++) sorted[i] = a[i]
    for (i = 1; i < n; i++) for (j = i + 1; j < n; j++)
        if (sorted[j] < sorted[i]) { t = sorted[i]; sorted[i] = sorted[j]; sorted[j] = t }
    key = ""
    for (i = 1; i < n; i++) key = key " " sorted[i]
    if (key in reported) return
    reported[key] = 1
    found = 1
    printf "include circle:"
    for (i = 1; i <= n; i++) printf " %s%s", a[i], i < n ? " ->" : "\n"
    for (i = 1; i < n; i++) printf "  %s -> %s:%s\n", a[i], a[i + 1], why[a[i], a[i + 1]]
}
END {
    for (i = 1; i <= n_inc; i++)
        if (inc_what[i] ~ /^src\//) add_edge(inc_from[i], node(inc_what[i]), inc_where[i])
    for (i = 1; i <= n_ref; i++) {
        m = split(defined[ref_name[i]], targets, " ")
        for (j = 1; j <= m; j++) add_edge(ref_from[i], targets[j], ref_where[i] "(" ref_name[i] ")")
    }
    for (v in nodes) { delete seen; dfs(v, v, v) }
    if (found) exit 1
    print "check_includes: no include circle between the folders of src/"
}'
