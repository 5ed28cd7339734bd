/* sql/lex.c — the SQL tokenizer.
 *
 * sqli_lex_token scans exactly one token at a position: no state, no allocation,
 * so the parser can look ahead by scanning again and the fuzzer can feed it
 * anything.
 *
 * Invariants:
 *   1. Every call consumes at least one byte unless at the end (TK_EOF with
 *      len 0), so a loop over sqli_lex_token terminates.
 *   2. A token never extends past n: an unterminated string, quoted name or
 *      comment is TK_ILLEGAL (comments: TK_SPACE to the end, as SQLite does).
 *   3. The keyword table is sorted by name (checked once by an assert).
 */
#include "sql/sqlint.h"
#include <assert.h>
#include <ctype.h>
#include <strings.h>

typedef struct kwent {
    const char *name;
    int kw;
    int reserved;
} kwent;

static const kwent kwtab[] = {
#define KW_TAB(n, r) {#n, KW_##n, r},
    KEYWORDS(KW_TAB)
#undef KW_TAB
};
#define NKW ((int)(sizeof kwtab / sizeof kwtab[0]))

int sqli_kw_lookup(const char *z, int n) {
    if (n <= 0 || n > 20) return KW_NONE;
    char up[24];
    for (int i = 0; i < n; i++) up[i] = (char)toupper((unsigned char)z[i]);
    up[n] = 0;
    int lo = 0, hi = NKW - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(up, kwtab[mid].name);
        if (c == 0) return kwtab[mid].kw;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return KW_NONE;
}

int sqli_kw_reserved(int kw) {
    assert(kw > 0 && kw <= NKW);
    return kwtab[kw - 1].reserved;
}

static int id_char(unsigned char c) {
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

static int scan_quoted(const char *z, int n, int pos, char q) {
    int i = pos + 1;
    for (;;) {
        if (i >= n) return -1;
        if (z[i] == q) {
            if (i + 1 < n && z[i + 1] == q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
}

static int scan_num(const char *z, int n, int i, token *t) {
    int start = i;
    t->type = TK_INTEGER;
    if (z[i] == '0' && i + 1 < n && (z[i + 1] == 'x' || z[i + 1] == 'X') && i + 2 < n &&
        isxdigit((unsigned char)z[i + 2])) {
        i += 2;
        while (i < n && isxdigit((unsigned char)z[i])) i++;
    } else {
        while (i < n && isdigit((unsigned char)z[i])) i++;
        if (i < n && z[i] == '.') {
            t->type = TK_FLOAT;
            i++;
            while (i < n && isdigit((unsigned char)z[i])) i++;
        }
        if (i < n && (z[i] == 'e' || z[i] == 'E')) {
            int j = i + 1;
            if (j < n && (z[j] == '+' || z[j] == '-')) j++;
            if (j < n && isdigit((unsigned char)z[j])) {
                t->type = TK_FLOAT;
                i = j;
                while (i < n && isdigit((unsigned char)z[i])) i++;
            }
        }
    }
    if (i < n && id_char((unsigned char)z[i])) { /* 12abc */
        while (i < n && id_char((unsigned char)z[i])) i++;
        t->type = TK_ILLEGAL;
    }
    return i - start;
}

static int scan_space(const char *z, int n, int i) {
    int s = i;
    for (;;) {
        if (i < n && isspace((unsigned char)z[i])) {
            i++;
        } else if (i + 1 < n && z[i] == '-' && z[i + 1] == '-') {
            while (i < n && z[i] != '\n') i++;
        } else if (i + 1 < n && z[i] == '/' && z[i + 1] == '*') {
            i += 2;
            while (i < n && !(z[i] == '*' && i + 1 < n && z[i + 1] == '/')) i++;
            i = i < n ? i + 2 : n;
        } else {
            return i - s;
        }
    }
}

static int op2(const char *z, int n, int i, char c) {
    return i + 1 < n && z[i + 1] == c;
}

/* Operators and punctuation; 0 if z[i] starts none. */
static int scan_op(const char *z, int n, int i, token *t) {
    switch (z[i]) {
    case ';':
        t->type = TK_SEMI;
        return 1;
    case '(':
        t->type = TK_LP;
        return 1;
    case ')':
        t->type = TK_RP;
        return 1;
    case ',':
        t->type = TK_COMMA;
        return 1;
    case '+':
        t->type = TK_PLUS;
        return 1;
    case '-':
        t->type = TK_MINUS;
        return 1;
    case '*':
        t->type = TK_STAR;
        return 1;
    case '/':
        t->type = TK_SLASH;
        return 1;
    case '%':
        t->type = TK_PERCENT;
        return 1;
    case '~':
        t->type = TK_BITNOT;
        return 1;
    case '&':
        t->type = TK_BITAND;
        return 1;
    case '|':
        if (op2(z, n, i, '|')) return t->type = TK_CONCAT, 2;
        t->type = TK_BITOR;
        return 1;
    case '=':
        t->type = TK_EQ;
        return op2(z, n, i, '=') ? 2 : 1;
    case '!':
        if (op2(z, n, i, '=')) return t->type = TK_NE, 2;
        t->type = TK_ILLEGAL;
        return 1;
    case '<':
        if (op2(z, n, i, '=')) return t->type = TK_LE, 2;
        if (op2(z, n, i, '>')) return t->type = TK_NE, 2;
        if (op2(z, n, i, '<')) return t->type = TK_SHL, 2;
        t->type = TK_LT;
        return 1;
    case '>':
        if (op2(z, n, i, '=')) return t->type = TK_GE, 2;
        if (op2(z, n, i, '>')) return t->type = TK_SHR, 2;
        t->type = TK_GT;
        return 1;
    default:
        return 0;
    }
}

static int scan_param(const char *z, int n, int i, token *t) {
    int j = i + 1;
    t->type = TK_PARAM;
    if (z[i] == '?') {
        while (j < n && isdigit((unsigned char)z[j])) j++;
        return j - i;
    }
    while (j < n && id_char((unsigned char)z[j])) j++;
    if (j == i + 1) t->type = TK_ILLEGAL;
    return j - i;
}

int sqli_lex_token(const char *z, int n, int pos, token *t) {
    t->pos = pos;
    t->z = z + pos;
    t->kw = KW_NONE;
    t->len = 0;
    if (pos >= n) {
        t->type = TK_EOF;
        return 0;
    }
    unsigned char c = (unsigned char)z[pos];
    int len;
    if (isspace(c) || (c == '-' && op2(z, n, pos, '-')) || (c == '/' && op2(z, n, pos, '*'))) {
        t->type = TK_SPACE;
        len = scan_space(z, n, pos);
    } else if (isdigit(c) || (c == '.' && pos + 1 < n && isdigit((unsigned char)z[pos + 1]))) {
        len = scan_num(z, n, pos, t);
    } else if (c == '\'' || c == '"' || c == '`') {
        int e = scan_quoted(z, n, pos, (char)c);
        t->type = e < 0 ? TK_ILLEGAL : c == '\'' ? TK_STRING : TK_ID;
        len = e < 0 ? n - pos : e - pos;
    } else if (c == '[') {
        int e = pos + 1;
        while (e < n && z[e] != ']') e++;
        t->type = e < n ? TK_ID : TK_ILLEGAL;
        len = e < n ? e + 1 - pos : n - pos;
    } else if ((c == 'x' || c == 'X') && op2(z, n, pos, '\'')) {
        int e = scan_quoted(z, n, pos + 1, '\'');
        t->type = TK_BLOB;
        len = e < 0 ? n - pos : e - pos;
        if (e < 0 || (len - 3) % 2 != 0) t->type = TK_ILLEGAL;
        for (int k = pos + 2; t->type == TK_BLOB && k < pos + len - 1; k++)
            if (!isxdigit((unsigned char)z[k])) t->type = TK_ILLEGAL;
    } else if (c == '?' || c == ':' || c == '@' || c == '$') {
        len = scan_param(z, n, pos, t);
    } else if (id_char(c)) {
        len = 1;
        while (pos + len < n && id_char((unsigned char)z[pos + len])) len++;
        t->kw = sqli_kw_lookup(z + pos, len);
        t->type = t->kw ? TK_KEYWORD : TK_ID;
    } else if (c == '.') {
        t->type = TK_DOT;
        len = 1;
    } else if (!(len = scan_op(z, n, pos, t))) {
        t->type = TK_ILLEGAL;
        len = 1;
    }
    t->len = len;
    return len;
}
