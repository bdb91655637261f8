"""NLTK's Porter stemmer as TensorFlow ops, so TF Serving can stem raw text.

The notebook stems every token with `nltk.stem.porter.PorterStemmer().stem(word)` in its
default NLTK_EXTENSIONS mode. `stem` reproduces that function exactly, step for step (1a,
1b, 1c, 2, 3, 4, 5a, 5b, NLTK's pool of irregular forms, and "words of one or two letters
are returned as they are"), with core TensorFlow ops only: no `py_function`, no
tensorflow_text, no lookup-table resource to initialise. The reference is NLTK's source
(nltk/stem/porter.py), not the 1980 paper; where they differ, NLTK wins.

How the string algorithm becomes tensor arithmetic
--------------------------------------------------
* Distinct tokens only. The batch is `tf.unique`d, the distinct tokens are stemmed, and
  the stems `tf.gather`ed back: the cost follows the batch's vocabulary, not its length.

* Numbers, not strings. String ops cost about a microsecond per word each, so they are
  used only to decode the words at the start and to assemble the stems at the end. In
  between, every step is a few dozen elementwise ops on [words] vectors.

* Letters and labels of the originals are computed once, on all the words' code points
  end to end in one flat vector: the letter, NLTK's `_is_consonant` label, running counts
  of vowels and of "vc" pairs (for the measure m), and a key of the 8 letters ending at
  each letter (for suffix tests).

  NLTK's consonant rule for 'y' walks back over a run of y's to the first letter that is
  not a 'y' (or to the word's first letter): the 'y' is a consonant iff that letter is one
  XOR the walk took an odd number of steps. "The last non-y at or before j" is found for
  every letter at once with `tf.searchsorted` on the running count of non-y letters.

* A word in progress is "its original's first `kept` letters + a tail". Every rule cuts
  a word and appends a replacement of at most 4 letters. Cutting into the original lowers
  `kept` and replaces the tail; cutting inside the tail shortens it. No replacement is
  longer than the suffix it replaces except step 1b's added 'e' (after a cut of 2+
  letters), so a tail never exceeds 4 letters, and it is packed into an int64 like a
  key (7 bits a letter) with a bit mask of its vowels. A letter's label depends only on
  the letters before it, so the original's labels hold for any kept prefix, and appended
  letters (never a 'y') have fixed labels.

* Suffix tests. A key packs up to 8 letters, 7 bits each, last letter lowest, so "ends
  with s" is `key & mask(len(s)) == key(s)`. A rule list (NLTK's `_apply_rule_list`)
  compares the word's key with all its suffixes at once and takes the FIRST listed
  suffix the word ends with; only that rule's condition decides, and if it fails the word
  is left alone, as in NLTK.

* The measure m of a prefix (NLTK's `_measure`: the number of "vc" in its c/v labels) is
  the original's running "vc" count up to the prefix (or to `kept`), plus the "vc" pairs
  ending in the tail, counted on the tail's vowel bits.

Memory and time are linear in the batch's distinct letters, however long a token is.

Input contract: lowercase tokens, as the notebook's cleaning produces (ASCII letters).
Other characters are treated as NLTK treats them (anything but aeiouy is a consonant);
NLTK's own lowercasing is not applied.
"""

from __future__ import annotations

import dataclasses
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

_VOWELS = "aeiou"
_KEY_LETTERS = 8  # Letters in a key: every suffix (<= 7) and pool form (<= 8) fits.
_BITS = 7  # Bits per letter in a key. Code points above 127 count as 127, which no suffix has.
_MAX_REPLACEMENT = 4  # "tion", "ence", "ance": the longest text a rule appends.

assert max(len(form) for form in _POOL) <= _KEY_LETTERS
assert _KEY_LETTERS * _BITS < 63  # Keys stay positive int64s; shifts stay below 64.


def _key(text: str) -> int:
    """The key of a constant string: its letters packed 7 bits each, last letter lowest."""
    assert len(text) <= _KEY_LETTERS
    return sum(min(ord(char), 127) << (_BITS * i) for i, char in enumerate(reversed(text)))


def _vowel_bits(text: str) -> int:
    """Bit i set iff the i-th letter from the end of a constant string is a vowel."""
    return sum(1 << i for i, char in enumerate(reversed(text)) if char in _VOWELS)


def _low_bits(count: tf.Tensor | int, bits_per_item: int = 1) -> tf.Tensor:
    """The int64 mask of the lowest count * bits_per_item bits."""
    count = tf.cast(count, tf.int64)
    return tf.bitwise.left_shift(tf.constant(1, tf.int64), count * bits_per_item) - 1


def _shift_left(packed: tf.Tensor, count: tf.Tensor, bits_per_item: int = 1) -> tf.Tensor:
    return tf.bitwise.left_shift(packed, tf.cast(count, tf.int64) * bits_per_item)


def _shift_right(packed: tf.Tensor, count: tf.Tensor, bits_per_item: int = 1) -> tf.Tensor:
    return tf.bitwise.right_shift(packed, tf.cast(count, tf.int64) * bits_per_item)


# --------------------------------------------------------------------------------------
# The words being stemmed
# --------------------------------------------------------------------------------------


class _Words(NamedTuple):
    """A batch of words in progress: each is original[:kept] + its tail.

    The originals are stored flat (all letters end to end, then one placeholder letter
    that keeps every gather in range) and never change; the steps change only `kept` and
    the tail.
    """

    # Per letter of the originals, flat, [total + 1]:
    letters: tf.Tensor  # int32 code points.
    consonant: tf.Tensor  # bool: NLTK's _is_consonant.
    key_at: tf.Tensor  # int64: key of the <= 8 letters of its word ending at this letter.
    vowels_before: tf.Tensor  # int32: vowels before flat index i.
    vc_before: tf.Tensor  # int32: "vc" pairs (within a word) ending before flat index i.
    # Per word ([n]):
    row_start: tf.Tensor  # int32: flat index of the original's first letter.
    kept: tf.Tensor  # int32: letters of the original still in the word.
    tail: tf.Tensor  # int64: the appended letters, packed like a key.
    tail_vowels: tf.Tensor  # int64: bit i set iff the tail's i-th letter from the end is a vowel.
    tail_length: tf.Tensor  # int32, 0..4.

    @property
    def length(self) -> tf.Tensor:
        return self.kept + self.tail_length


def _gather_original(words: _Words, values: tf.Tensor, position: tf.Tensor) -> tf.Tensor:
    """values[row_start + position] for a flat per-letter tensor (position clamped in range)."""
    index = tf.clip_by_value(words.row_start + position, 0, tf.size(values) - 1)
    return tf.gather(values, index)


def _tail_shift(words: _Words, position: tf.Tensor) -> tf.Tensor:
    """For a position inside the tail: how many tail letters follow it."""
    return tf.clip_by_value(words.length - 1 - position, 0, _KEY_LETTERS - 1)


def _char_at(words: _Words, position: tf.Tensor) -> tf.Tensor:
    """The word's letter at `position` (arbitrary outside the word; callers mask)."""
    in_tail = _shift_right(words.tail, _tail_shift(words, position), _BITS)
    in_tail = tf.cast(tf.bitwise.bitwise_and(in_tail, 127), tf.int32)
    in_original = _gather_original(words, words.letters, position)
    return tf.where(position < words.kept, in_original, in_tail)


def _consonant_at(words: _Words, position: tf.Tensor) -> tf.Tensor:
    """NLTK's `_is_consonant(word, position)` (arbitrary outside the word; callers mask)."""
    in_tail = _shift_right(words.tail_vowels, _tail_shift(words, position))
    in_tail = tf.equal(tf.bitwise.bitwise_and(in_tail, 1), 0)
    in_original = _gather_original(words, words.consonant, position)
    return tf.where(position < words.kept, in_original, in_tail)


def _is_one_of(chars: tf.Tensor, letters: str) -> tf.Tensor:
    return tf.reduce_any(tf.equal(tf.expand_dims(chars, -1), [ord(c) for c in letters]), axis=-1)


def _key_of_prefix(words: _Words, end: tf.Tensor | None = None) -> tf.Tensor:
    """The key of the word's last 8 letters before `end` (default: the word's end)."""
    end = words.length if end is None else end
    from_tail = tf.clip_by_value(end - words.kept, 0, words.tail_length)  # Tail letters used.
    original_end = end - from_tail
    original = tf.where(original_end > 0,
                        _gather_original(words, words.key_at, original_end - 1),
                        tf.constant(0, tf.int64))
    # The original's last (8 - from_tail) letters, moved up to make room for the tail's.
    original = tf.bitwise.bitwise_and(original, _low_bits(_KEY_LETTERS - from_tail, _BITS))
    tail = _shift_right(words.tail, words.tail_length - from_tail, _BITS)
    return tf.bitwise.bitwise_or(_shift_left(original, from_tail, _BITS), tail)


def _ends_with(key: tf.Tensor, suffix: str) -> tf.Tensor:
    masked = tf.bitwise.bitwise_and(key, _low_bits(len(suffix), _BITS))
    return tf.equal(masked, tf.constant(_key(suffix), tf.int64))


def _original_count(words: _Words, running: tf.Tensor, prefix_length: tf.Tensor) -> tf.Tensor:
    """How many of a running count's events lie in the prefix's original letters."""
    # A negative prefix (a rule's stem on a too-short word) counts as empty; callers mask.
    end = tf.clip_by_value(prefix_length, 0, words.kept)
    return (_gather_original(words, running, end)
            - _gather_original(words, running, tf.zeros_like(end)))


def _tail_letters_mask(words: _Words, prefix_length: tf.Tensor) -> tf.Tensor:
    """Bit mask of the tail letters that lie in the word's first prefix_length letters."""
    inside = tf.clip_by_value(prefix_length - words.kept, 0, words.tail_length)
    outside = words.tail_length - inside
    return tf.bitwise.bitwise_and(_low_bits(words.tail_length),
                                  tf.bitwise.invert(_low_bits(outside)))


def _measure(words: _Words, prefix_length: tf.Tensor) -> tf.Tensor:
    """NLTK's `_measure(word[:prefix_length])`: the number of "vc" in its c/v labels."""
    in_original = _original_count(words, words.vc_before, prefix_length)
    # Vowel bits of the tail, plus the letter just before it as bit tail_length.
    before_is_vowel = (words.kept > 0) & ~_consonant_at(words, words.kept - 1)
    before = _shift_left(tf.cast(before_is_vowel, tf.int64), words.tail_length)
    vowels = tf.bitwise.bitwise_or(words.tail_vowels, before)
    # A "vc" ends at tail bit b when b is a consonant and bit b + 1 (the letter before) a
    # vowel; count those among the prefix's tail letters.
    consonants = tf.bitwise.bitwise_and(tf.bitwise.invert(vowels), _low_bits(words.tail_length))
    vc = tf.bitwise.bitwise_and(consonants, _shift_right(vowels, 1))
    vc = tf.bitwise.bitwise_and(vc, _tail_letters_mask(words, prefix_length))
    in_tail = tf.cast(tf.raw_ops.PopulationCount(x=vc), tf.int32)
    return in_original + in_tail


def _has_vowel(words: _Words, prefix_length: tf.Tensor) -> tf.Tensor:
    """NLTK's `_contains_vowel(word[:prefix_length])`."""
    in_original = _original_count(words, words.vowels_before, prefix_length) > 0
    tail = tf.bitwise.bitwise_and(words.tail_vowels, _tail_letters_mask(words, prefix_length))
    return in_original | tf.not_equal(tail, 0)


def _ends_cvc(words: _Words, prefix_length: tf.Tensor) -> tf.Tensor:
    """NLTK's `_ends_cvc(word[:prefix_length])` (condition *o).

    Consonant-vowel-consonant with the last letter not w, x or y; or (NLTK extension) a
    two-letter stem vowel-consonant, with no w/x/y exception.
    """
    p = prefix_length
    c1, c2, c3 = (_consonant_at(words, p - k) for k in (3, 2, 1))
    cvc = (p >= 3) & c1 & ~c2 & c3 & ~_is_one_of(_char_at(words, p - 1), "wxy")
    return cvc | (tf.equal(p, 2) & ~c2 & c3)


def _ends_double_consonant(words: _Words, prefix_length: tf.Tensor) -> tf.Tensor:
    """NLTK's `_ends_double_consonant(word[:prefix_length])` (condition *d)."""
    p = prefix_length
    same = tf.equal(_char_at(words, p - 1), _char_at(words, p - 2))
    return (p >= 2) & same & _consonant_at(words, p - 1)


# --------------------------------------------------------------------------------------
# Rewriting a word's end
# --------------------------------------------------------------------------------------


class _Texts:
    """A fixed set of texts a step may append, as constant key / vowel-bit / length tables."""

    def __init__(self, texts: Sequence[str]):
        for text in texts:
            if "y" in text or len(text) > _MAX_REPLACEMENT:
                # A 'y' would take its label from the stem; no NLTK replacement has one.
                raise ValueError(f"unsupported replacement {text!r}")
        self.texts = tuple(texts)

    def index(self, text: str) -> int:
        return self.texts.index(text)

    def lookup(self, choice: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(key, vowel bits, length) of each word's chosen text."""
        return (tf.gather(tf.constant([_key(t) for t in self.texts], tf.int64), choice),
                tf.gather(tf.constant([_vowel_bits(t) for t in self.texts], tf.int64), choice),
                tf.gather(tf.constant([len(t) for t in self.texts], tf.int32), choice))


def _rewrite(words: _Words, keep: tf.Tensor, texts: _Texts, choice: tf.Tensor) -> _Words:
    """Each word cut to its first `keep` letters, then text `choice` appended.

    keep = length with the empty text leaves a word as it is.
    """
    key, vowel_bits, added = texts.lookup(choice)
    retained = tf.clip_by_value(keep - words.kept, 0, words.tail_length)  # Tail letters kept.
    dropped = words.tail_length - retained
    tail = _shift_left(_shift_right(words.tail, dropped, _BITS), added, _BITS)
    tail_vowels = _shift_left(_shift_right(words.tail_vowels, dropped), added)
    return words._replace(
        kept=tf.minimum(words.kept, keep),
        tail=tf.bitwise.bitwise_or(tail, key),
        tail_vowels=tf.bitwise.bitwise_or(tail_vowels, vowel_bits),
        tail_length=retained + added,
    )


_NOTHING = _Texts([""])


def _truncate(words: _Words, applies: tf.Tensor, keep: tf.Tensor) -> _Words:
    """Where `applies`, cuts the word to its first `keep` letters (nothing appended)."""
    keep = tf.where(applies, keep, words.length)
    return _rewrite(words, keep, _NOTHING, tf.zeros_like(keep))


# --------------------------------------------------------------------------------------
# Rule lists (NLTK's `_apply_rule_list`)
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Rule:
    """One NLTK rule `(suffix, replacement, condition)`.

    The condition is m(measured prefix) >= min_measure, the measured prefix being the stem
    plus the first `measure_extra` letters of the suffix (NLTK's "logi" rule measures
    word[:-3], i.e. the stem + "l"). min_measure=0: unconditional. `stem_ends_in`, if set,
    also requires the stem's last letter to be one of those letters.
    """

    suffix: str
    replacement: str
    min_measure: int = 0
    measure_extra: int = 0
    stem_ends_in: str = ""


class _Match(NamedTuple):
    found: tf.Tensor  # [n] bool: the word ends with one of the list's suffixes.
    rule: tf.Tensor  # [n] int32: the first listed such suffix (0 if none).
    stem_length: tf.Tensor  # [n] int32: the length without that suffix (length if none).


class _RuleList:
    """An ordered NLTK rule list."""

    def __init__(self, rules: Sequence[_Rule]):
        self.rules = tuple(rules)
        for rule in self.rules:
            # What keeps a word's tail within 4 letters (module docstring).
            if len(rule.replacement) > len(rule.suffix):
                raise ValueError(f"rule {rule} would lengthen the word")
        self.texts = _Texts(sorted({""} | {rule.replacement for rule in self.rules}))

    def per_rule(self, values: Sequence[int], rule: tf.Tensor) -> tf.Tensor:
        return tf.gather(tf.constant(list(values), tf.int32), rule)

    def match(self, words: _Words) -> _Match:
        """For each word, the first listed rule whose suffix the word ends with."""
        key = tf.expand_dims(_key_of_prefix(words), 1)
        masks = tf.constant([(1 << (_BITS * len(r.suffix))) - 1 for r in self.rules], tf.int64)
        keys = tf.constant([_key(r.suffix) for r in self.rules], tf.int64)
        hits = tf.equal(tf.bitwise.bitwise_and(key, masks), keys)  # [n, rules]
        found = tf.reduce_any(hits, axis=1)
        rule = tf.argmax(tf.cast(hits, tf.int32), axis=1, output_type=tf.int32)
        suffix_length = self.per_rule([len(r.suffix) for r in self.rules], rule)
        return _Match(found, rule, words.length - tf.where(found, suffix_length, 0))

    def apply(self, words: _Words) -> _Words:
        """NLTK's `_apply_rule_list(word, rules)` on every word of the batch."""
        found, rule, stem_length = self.match(words)
        applies = found
        if any(r.min_measure > 0 for r in self.rules):
            extra = self.per_rule([r.measure_extra for r in self.rules], rule)
            minimum = self.per_rule([r.min_measure for r in self.rules], rule)
            applies &= _measure(words, stem_length + extra) >= minimum
        for index, r in enumerate(self.rules):
            if r.stem_ends_in:
                stem_ok = _is_one_of(_char_at(words, stem_length - 1), r.stem_ends_in)
                applies &= tf.not_equal(rule, index) | stem_ok
        replacement = self.per_rule([self.texts.index(r.replacement) for r in self.rules], rule)
        return _rewrite(words, tf.where(applies, stem_length, words.length), self.texts,
                        tf.where(applies, replacement, self.texts.index("")))


def _positive(suffix: str, replacement: str, **kwargs) -> _Rule:
    return _Rule(suffix, replacement, min_measure=1, **kwargs)


def _above_one(suffix: str, **kwargs) -> _Rule:
    return _Rule(suffix, "", min_measure=2, **kwargs)


# Step 1a: SSES -> SS, IES -> I, SS -> SS, S -> (all unconditional).
_STEP1A = _RuleList([_Rule("sses", "ss"), _Rule("ies", "i"), _Rule("ss", "ss"), _Rule("s", "")])
_STEP1A_IES = 1

# Step 1b's four branches, in the order NLTK tests them.
_STEP1B = _RuleList([_Rule("ied", ""), _Rule("eed", ""), _Rule("ed", ""), _Rule("ing", "")])
_IED, _EED, _ED, _ING = range(4)
_STEP1_TEXTS = _Texts(["", "e", "i", "ie", "ee"])

# Step 2 in NLTK_EXTENSIONS form: "bli" (not the paper's "abli"), and NLTK's "fulli" and
# "logi", whose 'l' counts with the stem (NLTK measures word[:-3]).
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
_ALLI = _Texts(["", "al"])

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
    _above_one("ion", stem_ends_in="st"),  # (m>1 and (*S or *T)) ION ->
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
    """Plurals. NLTK extension: a four-letter word ending "ies" keeps "ie" (dies -> die).

    Each replacement is the start of its suffix (sses -> ss, ies -> i or ie, ss -> ss,
    s -> ''), so the step only cuts: it keeps the stem and that many suffix letters.
    """
    found, rule, stem_length = _STEP1A.match(words)
    kept_letters = _STEP1A.per_rule([len(r.replacement) for r in _STEP1A.rules], rule)
    four_letter_ies = tf.equal(rule, _STEP1A_IES) & tf.equal(words.length, 4)
    kept_letters += tf.cast(four_letter_ies, tf.int32)  # "ie" rather than "i".
    return _truncate(words, found, stem_length + kept_letters)


def _step1b(words: _Words) -> _Words:
    """-ied (NLTK), (m>0) EED -> EE, (*v*) ED ->, (*v*) ING ->, then the stem's tidying.

    Every branch ends in "keep the first k letters, append a short text", so the whole
    step is one rewrite.
    """
    texts = _STEP1_TEXTS
    found, branch, stem_length = _STEP1B.match(words)
    length = words.length
    nothing = tf.fill(tf.shape(length), texts.index(""))

    # -ied: "died" -> "die" (four letters), otherwise "spied" -> "spi". Unconditional.
    ied = found & tf.equal(branch, _IED)
    ied_text = tf.where(tf.equal(length, 4), texts.index("ie"), texts.index("i"))
    # -eed: "agreed" -> "agree" if m(stem) > 0; else the word stays ("feed"), step over.
    eed = found & tf.equal(branch, _EED) & (_measure(words, stem_length) > 0)
    # -ed / -ing come off only if the stem has a vowel. The stem is then tidied:
    strip = (found & (tf.equal(branch, _ED) | tf.equal(branch, _ING))
             & _has_vowel(words, stem_length))
    stem_key = _key_of_prefix(words, stem_length)
    #   at/bl/iz get their 'e' back (conflat -> conflate);
    add_e = _ends_with(stem_key, "at") | _ends_with(stem_key, "bl") | _ends_with(stem_key, "iz")
    #   else a double consonant loses a letter unless it is l, s or z (hopp -> hop, but
    #   fall stays: that rule matched, its condition failed, so NLTK tries no other);
    double = _ends_double_consonant(words, stem_length)
    drop = double & ~_is_one_of(_char_at(words, stem_length - 1), "lsz")
    #   else a stem with m = 1 ending cvc gets an 'e' (fil -> file).
    cvc_e = (~add_e & ~double & tf.equal(_measure(words, stem_length), 1)
             & _ends_cvc(words, stem_length))
    strip_keep = tf.where(drop, stem_length - 1, stem_length)
    strip_text = tf.where(add_e | cvc_e, texts.index("e"), texts.index(""))

    keep = tf.where(ied | eed, stem_length, tf.where(strip, strip_keep, length))
    choice = tf.where(ied, ied_text,
                      tf.where(eed, texts.index("ee"), tf.where(strip, strip_text, nothing)))
    return _rewrite(words, keep, texts, choice)


def _step1c(words: _Words) -> _Words:
    """NLTK's Y -> I: when the y follows a consonant that is not the word's first letter."""
    length = words.length
    applies = (_ends_with(_key_of_prefix(words), "y") & (length > 2)
               & _consonant_at(words, length - 2))
    texts = _STEP1_TEXTS
    choice = tf.where(applies, texts.index("i"), texts.index(""))
    return _rewrite(words, tf.where(applies, length - 1, length), texts, choice)


def _step2(words: _Words) -> _Words:
    """Step 2. NLTK first turns -alli into -al when m(stem) > 0, then reruns step 2."""
    length = words.length
    alli = _ends_with(_key_of_prefix(words), "alli") & (_measure(words, length - 4) > 0)
    choice = tf.where(alli, _ALLI.index("al"), _ALLI.index(""))
    words = _rewrite(words, tf.where(alli, length - 4, length), _ALLI, choice)
    # The rerun sees a word ending in "al", which can't end in "alli" again: one pass of
    # the rule list over the rewritten words is exactly NLTK's recursion.
    return _STEP2.apply(words)


def _step3(words: _Words) -> _Words:
    return _STEP3.apply(words)


def _step4(words: _Words) -> _Words:
    return _STEP4.apply(words)


def _step5a(words: _Words) -> _Words:
    """(m>1) E ->, and (m=1 and not *o) E ->; NLTK tries both conditions."""
    stem_length = words.length - 1
    measure = _measure(words, stem_length)
    applies = _ends_with(_key_of_prefix(words), "e") & (
        (measure > 1) | (tf.equal(measure, 1) & ~_ends_cvc(words, stem_length)))
    return _truncate(words, applies, stem_length)


def _step5b(words: _Words) -> _Words:
    """(m>1 and *d and *L) -> single letter; NLTK measures word[:-1] (the stem + one l)."""
    stem_length = words.length - 1
    applies = _ends_with(_key_of_prefix(words), "ll") & (_measure(words, stem_length) > 1)
    return _truncate(words, applies, stem_length)


_STEPS: tuple[Callable[[_Words], _Words], ...] = (
    _step1a, _step1b, _step1c, _step2, _step3, _step4, _step5a, _step5b)


# --------------------------------------------------------------------------------------
# From strings and back
# --------------------------------------------------------------------------------------


def _consonant_flags(letters: tf.Tensor, word_start: tf.Tensor) -> tf.Tensor:
    """NLTK's `_is_consonant` for every letter of the flat words.

    word_start[j]: flat index of the first letter of letter j's word.
    """
    is_vowel = tf.gather(tf.constant([chr(i) in _VOWELS for i in range(128)]),
                         tf.minimum(letters, 127))
    not_y = tf.not_equal(letters, ord("y"))
    # For letter j, the last non-y at or before j is the first index where the running
    # count of non-y letters reaches its value at j. If that lies before j's word (or
    # there is none), the word starts with y's and NLTK's walk ends at its first letter.
    non_y_seen = tf.cumsum(tf.cast(not_y, tf.int32))[tf.newaxis, :]
    anchor = tf.searchsorted(non_y_seen, non_y_seen, side="left", out_type=tf.int32)[0]
    anchor = tf.maximum(anchor, word_start)
    odd_walk = tf.equal((tf.range(tf.size(letters)) - anchor) % 2, 1)
    return tf.math.logical_xor(~tf.gather(is_vowel, anchor), odd_walk)


def _shifted(values: tf.Tensor, count: int) -> tf.Tensor:
    """values[i - count] at i; the first `count` places get zeros (False).

    Every caller masks those places out, so this is `tf.roll` there, at a seventh of its
    cost: Roll is among the slowest kernels of a serving request.
    """
    return tf.pad(values, [[count, 0]])[:tf.size(values)]


def _keys_ending_at(letters: tf.Tensor, word_start: tf.Tensor) -> tf.Tensor:
    """For each flat letter, the key of the <= 8 letters of its word ending there.

    By doubling: the key of 2w letters ending at i is the key of the w letters ending at
    i - w (if that is still in the word), shifted up, or'ed with the w letters ending at i.
    """
    index = tf.range(tf.size(letters))
    keys = tf.cast(tf.minimum(letters, 127), tf.int64)
    width = 1
    while width < _KEY_LETTERS:
        earlier = tf.where(index - width >= word_start, _shifted(keys, width), tf.constant(0, tf.int64))
        keys = tf.bitwise.bitwise_or(tf.bitwise.left_shift(earlier, _BITS * width), keys)
        width *= 2
    return keys


def _to_words(text: tf.Tensor) -> _Words:
    """Decodes a [n] string batch into the flat original letters and their labels."""
    codes = tf.strings.unicode_decode(text, "UTF-8")
    letters = codes.flat_values
    row_start = tf.cast(codes.row_starts(), tf.int32)
    word_start = tf.gather(row_start, codes.value_rowids())
    consonant = _consonant_flags(letters, word_start)
    key_at = _keys_ending_at(letters, word_start)
    first_letter = tf.equal(tf.range(tf.size(letters)), word_start)
    vc = consonant & ~_shifted(consonant, 1) & ~first_letter

    def running(flags: tf.Tensor) -> tf.Tensor:
        return tf.concat([[0], tf.cumsum(tf.cast(flags, tf.int32))], axis=0)

    n = tf.size(row_start)
    no_tail = tf.zeros([n], tf.int64)
    # A placeholder letter after the last word keeps every per-letter gather in range.
    return _Words(
        letters=tf.concat([letters, [0]], axis=0),
        consonant=tf.concat([consonant, [True]], axis=0),
        key_at=tf.concat([key_at, tf.zeros([1], tf.int64)], axis=0),
        vowels_before=running(~consonant),
        vc_before=running(vc),
        row_start=row_start,
        kept=tf.cast(codes.row_lengths(), tf.int32),
        tail=no_tail,
        tail_vowels=no_tail,
        tail_length=tf.zeros([n], tf.int32),
    )


def _to_strings(words: _Words, original: tf.Tensor) -> tf.Tensor:
    """The stemmed words: each original's kept letters + the unpacked tail."""
    heads = tf.strings.substr(original, tf.zeros_like(words.kept), words.kept, unit="UTF8_CHAR")
    # Tail letter j sits (tail_length - 1 - j) letters from the end of the packed tail.
    shifts = tf.expand_dims(words.tail_length - 1, 1) - tf.range(_KEY_LETTERS)[tf.newaxis, :]
    letters = tf.bitwise.bitwise_and(
        _shift_right(tf.expand_dims(words.tail, 1), tf.maximum(shifts, 0), _BITS), 127)
    tails = tf.strings.unicode_encode(
        tf.RaggedTensor.from_tensor(tf.cast(letters, tf.int32), lengths=words.tail_length),
        "UTF-8")
    return tf.strings.join([heads, tails])


def _pool_lookup(words: _Words) -> tuple[tf.Tensor, tf.Tensor]:
    """(is an irregular form, its stem). Pool forms are <= 8 letters: the key is exact."""
    forms = list(_POOL)
    key = tf.expand_dims(_key_of_prefix(words), 1)
    hits = (tf.equal(key, tf.constant([_key(f) for f in forms], tf.int64))
            & tf.equal(tf.expand_dims(words.length, 1), [len(f) for f in forms]))
    which = tf.argmax(tf.cast(hits, tf.int32), axis=1, output_type=tf.int32)
    return tf.reduce_any(hits, axis=1), tf.gather(list(_POOL.values()), which)


def _stem_distinct(text: tf.Tensor) -> tf.Tensor:
    """PorterStemmer().stem for each word of a [n] string tensor."""
    words = _to_words(text)
    in_pool, pooled = _pool_lookup(words)
    short = words.length <= 2
    for step in _STEPS:
        words = step(words)
    stems = _to_strings(words, text)
    # Irregular forms first, then words of one or two letters untouched, as in NLTK.
    return tf.where(in_pool, pooled, tf.where(short, text, stems))


def stem(tokens: tf.Tensor) -> tf.Tensor:
    """NLTK's `PorterStemmer().stem(token)` for every token, as TensorFlow ops.

    tokens: 1-D string tensor of lowercase tokens (any length, including 0).
    Returns a string tensor of the same shape. Each distinct token is stemmed once.
    """
    tokens = tf.convert_to_tensor(tokens, dtype=tf.string)
    with tf.name_scope("porter_stem"):
        distinct, index = tf.unique(tf.reshape(tokens, [-1]))
        stems = tf.gather(_stem_distinct(distinct), index)
        return tf.reshape(stems, tf.shape(tokens))
