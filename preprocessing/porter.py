"""NLTK's Porter stemmer as TensorFlow ops, so TF Serving can stem raw text.

The notebook stems every token with `nltk.stem.porter.PorterStemmer().stem(word)` in its
default NLTK_EXTENSIONS mode. `stem` reproduces that function exactly, step for step
(1a, 1b, 1c, 2, 3, 4, 5a, 5b, plus NLTK's irregular-forms pool and its "length <= 2 is left
alone" rule), using only core `tf.strings` / array ops that TF Serving 2.16 runs: no
`py_function`, no tensorflow_text, no lookup-table resources to initialise. The reference
is NLTK's source (nltk/stem/porter.py), not the 1980 paper; where they differ, NLTK wins.

How the string algorithm becomes tensor ops
-------------------------------------------
* Distinct tokens only. `tf.unique` the batch, stem the distinct tokens, `tf.gather` back:
  the cost follows the batch's vocabulary, not its length.

* Consonant/vowel labels. Each word travels with a parallel string of the same length,
  one 'c' or 'v' per letter (NLTK's `_is_consonant`). aeiou are 'v', every other letter
  except y is 'c'. A 'y' is a consonant at the start of the word or after a vowel, and a
  vowel after a consonant; RE2 has no lookbehind, so the y's are resolved by rewriting
  "vy" -> "vc" and "cy" -> "cv" on the label string, which settles every y whose left
  neighbour is already settled. Only runs like "yy" need a second pass; a `tf.while_loop`
  repeats until no 'y' is left (one check for ordinary batches).

* Labels are computed once. Every rule rewrites a suffix, so a word's labels after a rule
  are `labels[:len(stem)] + labels(replacement)`, and no replacement contains a 'y' (checked
  below), so the replacement's labels are constants. A prefix of a word has the same
  labels as the word's first letters, because a letter's label depends only on what
  precedes it.

* The measure m of a prefix is the number of "vc" in its labels (NLTK's `_measure`):
  `(len(p) - len(regex_replace(p, "vc", ""))) / 2`.

* Rule lists. NLTK's `_apply_rule_list` takes the FIRST listed suffix the word ends with
  and stops there, even if that rule's condition fails. One regex, `^.*?(s1|s2|...)$`
  rewritten to `\\1`, extracts the longest listed suffix the word ends with. Two listed
  suffixes that a word both ends with are suffixes of one another; NLTK lists the longer
  first in every list (asserted at import by `_RuleList`), so longest == first listed.
  The extracted suffix is matched against the list (a [words, rules] string equality) to
  find the rule, and only that rule's condition is evaluated.

Input contract: lowercase ASCII tokens (what the notebook's cleaning produces). Each byte
is one letter here, as each character is one letter to NLTK.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable, NamedTuple, Sequence

import tensorflow as tf

# NLTK_EXTENSIONS' table of irregular forms (PorterStemmer.__init__): stem -> forms. A word
# in the pool is answered from it before any other rule, including the length <= 2 rule.
_IRREGULAR_FORMS: dict[str, tuple[str, ...]] = {
    "sky": ("sky", "skies"),
    "die": ("dying",),
    "lie": ("lying",),
    "tie": ("tying",),
    "news": ("news",),
    "inning": ("innings", "inning"),
    "outing": ("outings", "outing"),
    "canning": ("cannings", "canning"),
    "howe": ("howe",),
    "proceed": ("proceed",),
    "exceed": ("exceed",),
    "succeed": ("succeed",),
}
_POOL: dict[str, str] = {form: stem for stem, forms in _IRREGULAR_FORMS.items() for form in forms}

_VOWELS = frozenset("aeiou")
# Letters that are always consonants ('y' depends on its position, so it is left out).
_CONSONANTS = "bcdfghjklmnpqrstvwxz"


def _constant_labels(text: str) -> str:
    """The c/v labels of a rule's replacement text; valid anywhere because it has no 'y'."""
    if "y" in text:
        raise ValueError(f"replacement {text!r} contains 'y'; its labels would depend on context")
    return "".join("v" if char in _VOWELS else "c" for char in text)


class _Words(NamedTuple):
    """A batch of words being stemmed, each with its c/v label string of equal length."""

    text: tf.Tensor  # [n] string
    labels: tf.Tensor  # [n] string of 'c'/'v'


# --------------------------------------------------------------------------------------
# Small string helpers (all elementwise over a [n] batch)
# --------------------------------------------------------------------------------------


def _length(strings: tf.Tensor) -> tf.Tensor:
    return tf.strings.length(strings)  # Bytes == letters under the ASCII contract.


def _prefix(strings: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """strings[i][:lengths[i]] (lengths are >= 0 and never past the end)."""
    return tf.strings.substr(strings, tf.zeros_like(lengths), lengths)


def _ends_with(strings: tf.Tensor, suffix: str) -> tf.Tensor:
    """str.endswith for a constant suffix, without a regex pass."""
    size = len(suffix)
    start = tf.maximum(_length(strings) - size, 0)
    return tf.equal(tf.strings.substr(strings, start, tf.fill(tf.shape(start), size)), suffix)


def _char_from_end(strings: tf.Tensor, offset: int) -> tf.Tensor:
    """strings[i][-offset], or '' when the string is shorter than offset."""
    length = _length(strings)
    start = tf.maximum(length - offset, 0)
    size = tf.where(length >= offset, 1, 0)
    return tf.strings.substr(strings, start, size)


def _count_vc(labels: tf.Tensor) -> tf.Tensor:
    """Number of "vc" in each label string: NLTK's `cv_sequence.count("vc")`."""
    removed = _length(labels) - _length(tf.strings.regex_replace(labels, "vc", ""))
    return removed // 2


def _measure(labels: tf.Tensor, prefix_length: tf.Tensor) -> tf.Tensor:
    """The Porter measure m of each word's first prefix_length letters."""
    return _count_vc(_prefix(labels, prefix_length))


def _ends_cvc(words: _Words) -> tf.Tensor:
    """NLTK's `_ends_cvc` (condition *o, with NLTK's two-letter extension).

    Either the word ends consonant-vowel-consonant and its last letter is not w, x or y, or
    (NLTK_EXTENSIONS) the whole word is two letters, vowel then consonant, with no
    w/x/y exception.
    """
    ends_cvc = tf.strings.regex_full_match(words.labels, ".*cvc")
    last_not_wxy = tf.strings.regex_full_match(words.text, ".*[^wxy]")
    return (ends_cvc & last_not_wxy) | tf.equal(words.labels, "vc")


def _rewrite(words: _Words, apply: tf.Tensor, stem_length: tf.Tensor,
             replacement: tf.Tensor, replacement_labels: tf.Tensor) -> _Words:
    """Where `apply`, replaces each word's letters after stem_length with `replacement`."""
    text = tf.strings.join([_prefix(words.text, stem_length), replacement])
    labels = tf.strings.join([_prefix(words.labels, stem_length), replacement_labels])
    return _Words(tf.where(apply, text, words.text), tf.where(apply, labels, words.labels))


# --------------------------------------------------------------------------------------
# Consonant/vowel labels
# --------------------------------------------------------------------------------------


def _settle_ys(labels: tf.Tensor) -> tf.Tensor:
    """Labels every 'y' whose left neighbour is labelled: after 'v' it is 'c', after 'c' 'v'.

    In one call, "vy" goes first so that a "vyy" becomes "vcy" and the "cy" rewrite then
    settles its second y too; a longer run of y's needs further calls.
    """
    labels = tf.strings.regex_replace(labels, "vy", "vc")
    return tf.strings.regex_replace(labels, "cy", "cv")


def _cv_labels(text: tf.Tensor) -> tf.Tensor:
    """One 'c'/'v' per letter, as NLTK's `_is_consonant` decides for each position."""
    # Order matters: letters 'c' and 'v' must be turned into labels before labels exist.
    labels = tf.strings.regex_replace(text, "[^aeiouy]", "c")
    labels = tf.strings.regex_replace(labels, "[aeiou]", "v")
    # A leading y is a consonant (NLTK: `_is_consonant(word, 0)` is True for 'y').
    labels = tf.strings.regex_replace(labels, "^y", "c")
    labels = _settle_ys(labels)

    # Runs of two or more y's ("yy" in "abyy") are rare; keep settling until none is left.
    def unsettled(labels: tf.Tensor) -> tf.Tensor:
        return tf.reduce_any(tf.strings.regex_full_match(labels, ".*y.*"))

    def settle(labels: tf.Tensor) -> tuple[tf.Tensor]:
        return (_settle_ys(labels),)

    return tf.while_loop(unsettled, settle, (labels,))[0]


# --------------------------------------------------------------------------------------
# Rule lists (NLTK's `_apply_rule_list`)
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Rule:
    """One NLTK rule `(suffix, replacement, condition)`.

    The condition is m(measured prefix) >= min_measure, where the measured prefix is the
    stem plus the first `measure_extra` letters of the suffix (NLTK's "logi" rule measures
    word[:-3], i.e. stem + "l"). min_measure=0 means unconditional. `stem_ends_in`, if
    set, additionally requires the stem's last letter to be one of those letters.
    `replacement_labels` is needed only for a replacement containing 'y' (its label then
    depends on the stem, so the rule must know it from context).
    """

    suffix: str
    replacement: str
    min_measure: int = 0
    measure_extra: int = 0
    stem_ends_in: str = ""
    replacement_labels: str | None = None

    def labels(self) -> str:
        if self.replacement_labels is not None:
            return self.replacement_labels
        return _constant_labels(self.replacement)


class _Match(NamedTuple):
    found: tf.Tensor  # [n] bool: the word ends with one of the list's suffixes.
    rule: tf.Tensor  # [n] int32: index of the first listed such suffix (0 if none).
    stem_length: tf.Tensor  # [n] int32: length without that suffix (whole length if none).


class _RuleList:
    """An ordered NLTK rule list, with the constants its tensor evaluation needs."""

    def __init__(self, rules: Sequence[_Rule]):
        self.rules = tuple(rules)
        self.suffixes = [rule.suffix for rule in self.rules]
        # The single-regex match returns the longest suffix; NLTK takes the first listed.
        # They agree if, whenever one listed suffix ends another, the longer comes first.
        for i, earlier in enumerate(self.suffixes):
            for later in self.suffixes[i + 1:]:
                if earlier.endswith(later) or later.endswith(earlier):
                    if len(later) >= len(earlier):
                        raise ValueError(f"suffix {later!r} ends {earlier!r} but is listed after it")
        self.pattern = "^.*?(" + "|".join(re.escape(suffix) for suffix in self.suffixes) + ")$"
        self.replacements = [rule.replacement for rule in self.rules]
        self.replacement_labels = [rule.labels() for rule in self.rules]
        self.conditional = any(rule.min_measure > 0 for rule in self.rules)

    def match(self, text: tf.Tensor) -> _Match:
        """For each word, the first rule of the list whose suffix the word ends with."""
        tail = tf.strings.regex_replace(text, self.pattern, r"\1")
        # A word that ends with no listed suffix comes back whole, and then equals none of
        # them (it would end with itself), so equality identifies the rule.
        hits = tf.equal(tf.expand_dims(tail, 1), tf.constant(self.suffixes)[tf.newaxis, :])
        found = tf.reduce_any(hits, axis=1)
        rule = tf.argmax(tf.cast(hits, tf.int32), axis=1, output_type=tf.int32)
        suffix_length = tf.gather(tf.constant([len(s) for s in self.suffixes], tf.int32), rule)
        stem_length = _length(text) - tf.where(found, suffix_length, 0)
        return _Match(found, rule, stem_length)

    def gather(self, values: Sequence, rule: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
        return tf.gather(tf.constant(list(values), dtype), rule)

    def apply(self, words: _Words) -> _Words:
        """NLTK's `_apply_rule_list(word, rules)` on every word of the batch."""
        found, rule, stem_length = self.match(words.text)
        apply = found
        if self.conditional:
            extra = self.gather([r.measure_extra for r in self.rules], rule, tf.int32)
            measured = stem_length + tf.where(found, extra, 0)
            min_measure = self.gather([r.min_measure for r in self.rules], rule, tf.int32)
            apply &= _measure(words.labels, measured) >= min_measure
        for index, r in enumerate(self.rules):
            if r.stem_ends_in:
                # Only the one rule checks this, so one regex over the word suffices.
                stem_ok = tf.strings.regex_full_match(
                    words.text, f".*[{r.stem_ends_in}]{re.escape(r.suffix)}")
                apply &= tf.logical_not(tf.equal(rule, index)) | stem_ok
        return _rewrite(
            words, apply, stem_length,
            self.gather(self.replacements, rule, tf.string),
            self.gather(self.replacement_labels, rule, tf.string))


# Step 1a: SSES -> SS, IES -> I, SS -> SS, S -> (all unconditional).
_STEP1A = _RuleList([
    _Rule("sses", "ss"),
    _Rule("ies", "i"),
    _Rule("ss", "ss"),
    _Rule("s", ""),
])
_STEP1A_IES = 1

# Step 1b, first part: which of NLTK's four branches the word takes.
_STEP1B = _RuleList([_Rule("ied", ""), _Rule("eed", ""), _Rule("ed", ""), _Rule("ing", "")])
_IED, _EED, _ED, _ING = range(4)

# Step 1b, second part, on the stem left by -ed/-ing: AT -> ATE, BL -> BLE, IZ -> IZE, then
# *d (double consonant): one letter dropped unless it is l, s or z. A double letter's
# suffix can't also be at/bl/iz, so the list order between them doesn't matter. "yy" is
# a double consonant only if its last y is labelled 'c' (checked in `_step1b_tidy`), and
# then the y that stays is labelled 'v'.
_STEP1B_TIDY = _RuleList(
    [_Rule("at", "ate"), _Rule("bl", "ble"), _Rule("iz", "ize")]
    + [_Rule(letter * 2, letter) for letter in _CONSONANTS if letter not in "lsz"]
    + [_Rule("yy", "y", replacement_labels="v")]
    + [_Rule(letter * 2, letter * 2) for letter in "lsz"]
)
_STEP1B_YY = _STEP1B_TIDY.suffixes.index("yy")


def _positive(suffix: str, replacement: str, **kwargs) -> _Rule:
    return _Rule(suffix, replacement, min_measure=1, **kwargs)


def _above_one(suffix: str) -> _Rule:
    return _Rule(suffix, "", min_measure=2)


# Step 2 in NLTK_EXTENSIONS order: "bli" (not the paper's "abli"), then NLTK's "fulli" and
# "logi"; for "logi" the 'l' counts with the stem (NLTK measures word[:-3]).
_STEP2 = _RuleList([
    _positive("ational", "ate"),
    _positive("tional", "tion"),
    _positive("enci", "ence"),
    _positive("anci", "ance"),
    _positive("izer", "ize"),
    _positive("bli", "ble"),
    _positive("alli", "al"),
    _positive("entli", "ent"),
    _positive("eli", "e"),
    _positive("ousli", "ous"),
    _positive("ization", "ize"),
    _positive("ation", "ate"),
    _positive("ator", "ate"),
    _positive("alism", "al"),
    _positive("iveness", "ive"),
    _positive("fulness", "ful"),
    _positive("ousness", "ous"),
    _positive("aliti", "al"),
    _positive("iviti", "ive"),
    _positive("biliti", "ble"),
    _positive("fulli", "ful"),
    _positive("logi", "log", measure_extra=1),
])

_STEP3 = _RuleList([
    _positive("icate", "ic"),
    _positive("ative", ""),
    _positive("alize", "al"),
    _positive("iciti", "ic"),
    _positive("ical", "ic"),
    _positive("ful", ""),
    _positive("ness", ""),
])

_STEP4 = _RuleList([
    _above_one("al"),
    _above_one("ance"),
    _above_one("ence"),
    _above_one("er"),
    _above_one("ic"),
    _above_one("able"),
    _above_one("ible"),
    _above_one("ant"),
    _above_one("ement"),
    _above_one("ment"),
    _above_one("ent"),
    _Rule("ion", "", min_measure=2, stem_ends_in="st"),  # (m>1 and (*S or *T)) ION ->
    _above_one("ou"),
    _above_one("ism"),
    _above_one("ate"),
    _above_one("iti"),
    _above_one("ous"),
    _above_one("ive"),
    _above_one("ize"),
])


# --------------------------------------------------------------------------------------
# The steps
# --------------------------------------------------------------------------------------


def _step1a(words: _Words) -> _Words:
    """Plurals. NLTK extension: a four-letter word ending "ies" keeps "ie" (dies -> die)."""
    found, rule, stem_length = _STEP1A.match(words.text)
    four_letter_ies = tf.equal(rule, _STEP1A_IES) & tf.equal(_length(words.text), 4)
    replacement = _STEP1A.gather(_STEP1A.replacements, rule, tf.string)
    replacement_labels = _STEP1A.gather(_STEP1A.replacement_labels, rule, tf.string)
    replacement = tf.where(four_letter_ies, "ie", replacement)
    replacement_labels = tf.where(four_letter_ies, "vv", replacement_labels)
    return _rewrite(words, found, stem_length, replacement, replacement_labels)


def _step1b_tidy(stems: _Words) -> _Words:
    """What NLTK does to the stem left after removing -ed or -ing.

    at/bl/iz get their e back; a double consonant loses a letter unless it is l, s or z
    (and then, the first matching rule having failed its condition, nothing else happens);
    otherwise a stem with m = 1 ending cvc gets an e (fil -> file).
    """
    found, rule, stem_length = _STEP1B_TIDY.match(stems.text)
    # "yy" whose last y is a vowel is no double consonant: NLTK falls through to the e rule.
    last_is_vowel = tf.equal(_char_from_end(stems.labels, 1), "v")
    found &= ~(tf.equal(rule, _STEP1B_YY) & last_is_vowel)
    tidied = _rewrite(
        stems, found, stem_length,
        _STEP1B_TIDY.gather(_STEP1B_TIDY.replacements, rule, tf.string),
        _STEP1B_TIDY.gather(_STEP1B_TIDY.replacement_labels, rule, tf.string))

    add_e = ~found & tf.equal(_count_vc(stems.labels), 1) & _ends_cvc(stems)
    length = _length(stems.text)
    return _rewrite(tidied, add_e, length, tf.fill(tf.shape(length), "e"),
                    tf.fill(tf.shape(length), "v"))


def _step1b(words: _Words) -> _Words:
    """-ied (NLTK extension), (m>0) EED -> EE, (*v*) ED ->, (*v*) ING ->, then tidying."""
    found, branch, stem_length = _STEP1B.match(words.text)
    length = _length(words.text)

    # -ied: "died" -> "die" (four letters), otherwise "spied" -> "spi". Unconditional.
    is_ied = found & tf.equal(branch, _IED)
    four_letters = tf.equal(length, 4)
    # -eed: "agreed" -> "agree" if m(stem) > 0, else the word is left as it is ("feed").
    is_eed = found & tf.equal(branch, _EED)
    eed_applies = is_eed & (_measure(words.labels, stem_length) > 0)
    replaced = _rewrite(
        words, is_ied | eed_applies, stem_length,
        tf.where(is_ied, tf.where(four_letters, "ie", "i"), "ee"),
        tf.where(is_ied, tf.where(four_letters, "vv", "v"), "vv"))

    # -ed / -ing come off only if the stem contains a vowel; the stem is then tidied.
    stems = _Words(_prefix(words.text, stem_length), _prefix(words.labels, stem_length))
    strip = (found & (tf.equal(branch, _ED) | tf.equal(branch, _ING))
             & tf.strings.regex_full_match(stems.labels, ".*v.*"))
    tidied = _step1b_tidy(stems)
    return _Words(tf.where(strip, tidied.text, replaced.text),
                  tf.where(strip, tidied.labels, replaced.labels))


def _step1c(words: _Words) -> _Words:
    """NLTK's Y -> I: when the y follows a consonant that is not the word's first letter."""
    length = _length(words.text)
    applies = (_ends_with(words.text, "y") & (length > 2)
               & tf.equal(_char_from_end(words.labels, 2), "c"))
    return _rewrite(words, applies, length - 1, tf.fill(tf.shape(length), "i"),
                    tf.fill(tf.shape(length), "v"))


def _step2(words: _Words) -> _Words:
    """Step 2. NLTK first turns -alli into -al when m(stem) > 0, then runs step 2 again."""
    length = _length(words.text)
    alli = _ends_with(words.text, "alli") & (_measure(words.labels, length - 4) > 0)
    words = _rewrite(words, alli, length - 4, tf.fill(tf.shape(length), "al"),
                     tf.fill(tf.shape(length), "vc"))
    # The rerun sees a word ending in "al", which doesn't end with "alli" again: one pass
    # of the rule list over the rewritten words is exactly NLTK's recursion.
    return _STEP2.apply(words)


def _step3(words: _Words) -> _Words:
    return _STEP3.apply(words)


def _step4(words: _Words) -> _Words:
    return _STEP4.apply(words)


def _step5a(words: _Words) -> _Words:
    """(m>1) E ->, and (m=1 and not *o) E ->. Both conditions are tried (NLTK's comment)."""
    length = _length(words.text)
    stem_length = length - 1
    stem = _Words(_prefix(words.text, stem_length), _prefix(words.labels, stem_length))
    measure = _count_vc(stem.labels)
    applies = _ends_with(words.text, "e") & (
        (measure > 1) | (tf.equal(measure, 1) & ~_ends_cvc(stem)))
    return _Words(tf.where(applies, stem.text, words.text),
                  tf.where(applies, stem.labels, words.labels))


def _step5b(words: _Words) -> _Words:
    """(m>1 and *d and *L) -> single letter; NLTK measures word[:-1] (the stem plus one l)."""
    length = _length(words.text)
    applies = _ends_with(words.text, "ll") & (_measure(words.labels, length - 1) > 1)
    return _Words(tf.where(applies, _prefix(words.text, length - 1), words.text),
                  tf.where(applies, _prefix(words.labels, length - 1), words.labels))


_STEPS: tuple[Callable[[_Words], _Words], ...] = (
    _step1a, _step1b, _step1c, _step2, _step3, _step4, _step5a, _step5b)


# --------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------


def _stem_distinct(words: tf.Tensor) -> tf.Tensor:
    """PorterStemmer().stem for each word of a [n] string tensor."""
    # Irregular forms first, as NLTK's `stem` does.
    forms = tf.constant(list(_POOL))
    in_pool = tf.equal(tf.expand_dims(words, 1), forms[tf.newaxis, :])
    pooled = tf.gather(tf.constant(list(_POOL.values())),
                       tf.argmax(tf.cast(in_pool, tf.int32), axis=1, output_type=tf.int32))

    state = _Words(words, _cv_labels(words))
    for step in _STEPS:
        state = step(state)

    # Words of one or two letters are returned untouched (NLTK_EXTENSIONS).
    stems = tf.where(_length(words) <= 2, words, state.text)
    return tf.where(tf.reduce_any(in_pool, axis=1), pooled, stems)


def stem(tokens: tf.Tensor) -> tf.Tensor:
    """NLTK's `PorterStemmer().stem(token)` for every token, as TensorFlow ops.

    tokens: 1-D string tensor of lowercase ASCII tokens (any length, including 0).
    Returns a string tensor of the same shape. Each distinct token is stemmed once.
    """
    tokens = tf.convert_to_tensor(tokens, dtype=tf.string)
    with tf.name_scope("porter_stem"):
        distinct, index = tf.unique(tf.reshape(tokens, [-1]))
        stems = tf.gather(_stem_distinct(distinct), index)
        return tf.reshape(stems, tf.shape(tokens))
