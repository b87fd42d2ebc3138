/* A checkpoint's metadata is untrusted input: each field clinpaint reads is
 * range-checked here, at open, so that "4294967300" never becomes a batch
 * of 4, "-5" never wraps to a huge step and "nan" never becomes a rate. */
#include "model/checkpoint_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cp_parse_u64_strict(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 20) return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return false; /* overflow */
        v = v * 10 + d;
    }
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* A finite real in [lo, hi] (strtod syntax, nothing after it). "-inf" only
 * where allowed: the best score of a run that has none yet. */
static bool parse_real(const char *s, double lo, double hi, bool minus_inf_ok)
{
    if (!s || !*s || isspace((unsigned char)s[0])) return false;
    if (minus_inf_ok && strcmp(s, "-inf") == 0) return true;
    char *end;
    double v = strtod(s, &end);
    return !*end && isfinite(v) && v >= lo && v <= hi;
}

/* The value, shortened and with control characters shown as '?', for a
 * message: a hostile file must not write escape sequences to a terminal. */
static const char *shown(const char *v, char *buf, size_t size)
{
    size_t n = 0;
    for (; v[n] && n + 1 < size && n < 40; n++)
        buf[n] = (unsigned char)v[n] < 0x20 || v[n] == 0x7f ? '?' : v[n];
    buf[n] = '\0';
    return buf;
}

static cp_status bad(const char *path, const char *key, const char *value, const char *want)
{
    char b[48];
    if (!value)
        return cp_set_error(CP_ERR_FORMAT, "%s: metadata field '%s' is missing (%s)", path, key, want);
    return cp_set_error(CP_ERR_FORMAT, "%s: metadata field '%s' = \"%s\" is refused: %s", path, key,
                        shown(value, b, sizeof b), want);
}

typedef struct int_rule {
    const char *key;
    uint64_t lo, hi;
    bool required;
} int_rule;

/* 2^53: positions and steps stay exact in a double and far from wrapping. */
#define POS_MAX 9007199254740992ULL

static const int_rule int_rules[] = {
    {"size", 8, 4096, true},        {"latent", 1, 65536, true},
    {"batchnorm", 0, 1, true},      {"step_g", 0, POS_MAX, false},
    {"step_d", 0, POS_MAX, false},  {"step", 0, POS_MAX, false},
    {"epoch", 0, POS_MAX, false},   {"batch_index", 0, POS_MAX, false},
    {"seed", 0, UINT64_MAX, false}, {"batch", 1, 4096, false},
    {"epochs", 1, 1000000, false},
};

typedef struct real_rule {
    const char *key;
    double lo, hi;
    bool minus_inf_ok;
} real_rule;

static const real_rule real_rules[] = {
    {"lr_g", 1e-12, 10, false},      {"lr_d", 1e-12, 10, false},
    {"beta1", 0, 0.999999, false},   {"beta2", 0, 0.999999999, false},
    {"eps", 1e-30, 1, false},        {"rec_weight", 0, 1e6, false},
    {"adv_weight", 0, 1e6, false},   {"ctx_weight", 0, 1e6, false},
    {"best_hole_psnr", -1e4, 1e4, true},
};

static cp_status check_widths(const char *path, const char *v, int *widths)
{
    const char *want = "six integers in 1..4096 separated by commas";
    if (!v) return bad(path, "widths", v, want);
    const char *p = v;
    for (int i = 0; i < 6; i++) {
        char num[24];
        size_t n = strcspn(p, ",");
        uint64_t w;
        if (n == 0 || n >= sizeof num) return bad(path, "widths", v, want);
        memcpy(num, p, n);
        num[n] = '\0';
        if (!cp_parse_u64_strict(num, 1, 4096, &w)) return bad(path, "widths", v, want);
        widths[i] = (int)w;
        p += n;
        if (i < 5 && *p++ != ',') return bad(path, "widths", v, want);
    }
    return *p ? bad(path, "widths", v, want) : CP_OK;
}

/* The mask setting is checked for what it is when used (a kind, or a file or
 * folder that exists: see cp_mask_source_create); here only that it is a
 * plausible path or name. */
static cp_status check_mask(const char *path, const char *v)
{
    if (!v) return CP_OK;
    size_t n = strlen(v);
    bool printable = n > 0 && n < 1024;
    for (size_t i = 0; i < n && printable; i++)
        printable = (unsigned char)v[i] >= 0x20 && v[i] != 0x7f;
    return printable ? CP_OK
                     : bad(path, "mask", v, "a mask kind or a path of 1..1023 printable characters");
}

cp_status cp_checkpoint_check_meta(const cp_st_file *f, const char *path, cp_model_config *cfg)
{
    char want[96];
    for (size_t i = 0; i < sizeof int_rules / sizeof int_rules[0]; i++) {
        const int_rule *r = &int_rules[i];
        const char *v = cp_st_meta(f, r->key);
        uint64_t x;
        if (!v && !r->required) continue;
        if (!cp_parse_u64_strict(v, r->lo, r->hi, &x)) {
            snprintf(want, sizeof want, "an integer from %llu to %llu (digits only)",
                     (unsigned long long)r->lo, (unsigned long long)r->hi);
            return bad(path, r->key, v, want);
        }
        if (strcmp(r->key, "size") == 0) cfg->size = (int)x;
        if (strcmp(r->key, "latent") == 0) cfg->latent = (int)x;
        if (strcmp(r->key, "batchnorm") == 0) cfg->batchnorm = x != 0;
    }
    for (size_t i = 0; i < sizeof real_rules / sizeof real_rules[0]; i++) {
        const real_rule *r = &real_rules[i];
        const char *v = cp_st_meta(f, r->key);
        if (v && !parse_real(v, r->lo, r->hi, r->minus_inf_ok)) {
            snprintf(want, sizeof want, "a finite number from %g to %g", r->lo, r->hi);
            return bad(path, r->key, v, want);
        }
    }
    cp_status st = check_widths(path, cp_st_meta(f, "widths"), cfg->widths);
    if (st != CP_OK) return st;
    st = check_mask(path, cp_st_meta(f, "mask"));
    if (st != CP_OK) return st;
    const char *preset = cp_st_meta(f, "preset");
    if (preset)
        shown(preset, cfg->preset, sizeof cfg->preset);
    else
        snprintf(cfg->preset, sizeof cfg->preset, "custom");
    return CP_OK;
}
