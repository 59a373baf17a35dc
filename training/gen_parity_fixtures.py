#!/usr/bin/env python3
"""Generate Falcon's golden parity fixtures (crates/falcon_engine/tests/fixtures/).

A matrix of small scikit-learn text pipelines, each fitted on a small
deterministic subset of the SpamAssassin corpus (see spam_corpus.py), saved as
pickles/joblib files together with scikit-learn's own outputs on a shared set
of texts.  Falcon must load each file natively and reproduce those outputs.

Output files:
  texts.json              the texts every case is evaluated on (list of str)
  NAME.pkl                pickle.dump(pipeline, f, protocol=4)
  NAME.z.joblib           joblib.dump(pipeline, f, compress=3)
  NAME.joblib             joblib.dump(pipeline, f)  (uncompressed; only some cases)
  NAME.expected.json      {"classes", "predict", "predict_proba"|null, "decision_function"|null}
  refused_*.pkl           files Falcon must refuse at load time
  manifest.json           {"sklearn", "cases": [...], "refused": [...]}

Usage: python training/gen_parity_fixtures.py [--out DIR] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import sklearn
import sklearn.exceptions
from sklearn.ensemble import AdaBoostClassifier
from sklearn.feature_extraction.text import (
    CountVectorizer,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.linear_model import (
    LogisticRegression,
    PassiveAggressiveClassifier,
    Perceptron,
    RidgeClassifier,
    SGDClassifier,
)
from sklearn.naive_bayes import BernoulliNB, ComplementNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

TRAINING = Path(__file__).resolve().parent
sys.path.insert(0, str(TRAINING))
import falcon_fixture_helpers as helpers  # noqa: E402
import spam_corpus  # noqa: E402

REPO = TRAINING.parent
DEFAULT_OUT = REPO / "crates" / "falcon_engine" / "tests" / "fixtures"

SEED = 7
N_PER_CLASS = 120  # training messages per 3-class label (easy-ham / hard-ham / spam)
TRAIN_BODY_CHARS = 1000
N_HELDOUT_TEXTS = 150
HELDOUT_TRUNCATE = 4096

# ---------------------------------------------------------------------------
# Texts
# ---------------------------------------------------------------------------

# Snippets mixed into a few *training* documents so that vocabularies contain
# non-ASCII tokens (otherwise the hostile test texts would mostly hit nothing
# but HashingVectorizer).
UNICODE_SNIPPETS = [
    "Café résumé naïve façade déjà vu",
    "İstanbul ISTANBUL istanbul ıstanbul",
    "Straße STRASSE straße groß",
    "ΟΔΟΣ ΣΑΣ σοφός Ἀθῆναι",
    "Привет мир бесплатно деньги",
    "مرحبا بالعالم مجانا",
    "שלום עולם חינם",
    "हिन्दी भाषा मुफ्त पैसा",
    "ภาษาไทย ฟรี เงิน",
    "机器学习很有趣 免费 赚钱",
    "日本語のテキスト 無料 お金",
    "한국어 텍스트 무료 돈",
    "🚀🔥 free money 💰 now",
    "ＦＲＥＥ ｍｏｎｅｙ ﬁnance ﬂow",
    "e\u0301te\u0301 cafe\u0301 nai\u0308ve",
    "٣٤٥ ५६ ๑๒ ²³ ½ Ⅻ ①",
    "__init__ a_b _x_ snake_case",
    "FREE!!! $$$ click NOW!!!",
    "Tiếng Việt miễn phí",
    "Ωmega Kelvin Ångström ǅemal ſtate",
]


N_UNICODE_DOCS = 24


def training_unicode_docs() -> list[str]:
    """24 documents, each combining 5 snippets twice, so each snippet's tokens
    occur in 6 documents, 12 times: frequent enough to survive max_features."""
    n = len(UNICODE_SNIPPETS)
    docs = []
    for i in range(N_UNICODE_DOCS):
        parts = [UNICODE_SNIPPETS[(i * 5 + k) % n] for k in range(5)]
        docs.append("\n".join(parts + parts[::-1]))
    return docs


def hostile_texts() -> list[str]:
    fam = "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466"  # ZWJ family
    flags = "\U0001F1FA\U0001F1F8\U0001F1EB\U0001F1F7\U0001F1EF\U0001F1F5"  # US FR JP
    texts = [
        "",
        " ",
        "\t\n",
        "a",
        "é",
        "ß",
        "İstanbul",
        "e\u0301te\u0301",  # decomposed accents
        "\u0301\u0301",  # combining marks alone
        "ΟΔΟΣ ΣΑΣ σοφός",
        "Привет, мир! Бесплатно ДЕНЬГИ",
        "مرحبا بالعالم مجانا",
        "שלום עולם חינם",
        "हिन्दी भाषा",
        "ภาษาไทย ฟรี เงิน",
        "机器学习很有趣",
        "日本語のテキスト、無料でお金！カタカナ ひらがな",
        "한국어 텍스트 무료 돈",
        "🚀🔥 free money 💰",
        f"family {fam} flags {flags} thumbs \U0001F44D\U0001F3FD ok\uFE0F",
        "٣٤٥ ५६ ๑๒ ²³ ½",
        "__init__ a_b _x_",
        "ＦＲＥＥ",
        "ﬁnance",
        "FREE!!! $$$ click NOW",
        "MiXeD CaSe WoRdS FrEe MoNeY fReE",
        "free\tmoney\nnow\x0bclick\x0chere\x1cwin\x1dthe\x1eprize\x1foffer\x85today\xa0only\u2028best\u2029deal\u3000ever\r\nend",
        "  leading and trailing whitespace  \n\n",
        "nul\x00byte and bell\x07 and escape\x1b[0m",
        "Café résumé naïve façade déjà vu CAFÉ RÉSUMÉ",
        "cafe\u0301 nai\u0308ve re\u0301sume\u0301",  # NFD forms
        "Straße STRASSE straße",
        "ıi İI Iı",
        "Ωmega \u2126hm \u212Aelvin \u212Bngström ǅemal ǈ ǋ ſtate ﬀ ﬃ",
        "Ⅻ ① ⑩ ㈱ ㎞ ™ ℃",
        "Tiếng Việt miễn phí",
        "Ἀθῆναι ᾼ ΐ",
        "한국어",  # precomposed Hangul (NFKD -> Jamo)
        "\u1112\u1161\u11AB\u1100\u1173\u11AF",  # conjoining Jamo
        "don't won't it's O'Reilly rock'n'roll",
        "e-mail foo-bar U.S.A. 3.14 1,000,000 $100.00 50% #1 @user",
        "Visit http://www.example.com/path?x=1&y=2#frag or https://sub.example.org/a/b.html now",
        "Mail me at john.doe+spam@example.org or <jane_doe@example.co.uk>",
        "<html><head><title>WIN</title></head><body><a href='http://x.y/z'>CLICK HERE</a>&nbsp;&amp;&lt;b&gt;<br/></body></html>",
        "=?iso-8859-1?Q?Caf=E9?= =3D=20 quoted-printable soft=\nbreak",
        "!!! ??? ... --- *** ### $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}} ||| ~~~ ``` ''' \"\"\"",
        "1234567890 0123 42 007",
        "a b c d e f g h i j k l m n o p q r s t u v w x y z",
        "Subject: FREE money\n\nDear friend, you have WON $1,000,000!!! Click http://win.example.com NOW.",
        "Re: meeting tomorrow\n\nHi all, the meeting is moved to 3pm. Thanks, Bob",
        "\U0001D400\U0001D401\U0001D402 \U0001D7CE\U0001D7CF",  # math bold ABC, bold digits
        "x\u200By\u200Cz\u200Dw\u2060v\uFEFFu",  # zero-width characters
        "\u00AD soft\u00ADhyphen",
        "ǆ Ǆ ǅ ﬅ ﬆ",
        "ÀÉÎÕÜ àéîõü ÇÑ çñ Ø ø Æ æ Œ œ Ł ł Đ đ Þ þ",
        "\u0130\u0307 i\u0307 I\u0307",
    ]
    # 50 KB of repeated words, and one 5000-character word.
    words = "free money click here meeting tomorrow the report spam ham "
    texts.append((words * (50_000 // len(words) + 1))[:50_000])
    texts.append("spam" * 1250)
    return texts


def strip_headers(text: str) -> tuple[str, str]:
    """(subject, body) of a raw e-mail."""
    head, sep, body = text.partition("\n\n")
    if not sep:
        return "", text
    subject = ""
    for line in head.split("\n"):
        if line.lower().startswith("subject:"):
            subject = line[8:].strip()
            break
    return subject, body


def training_set(msgs, tr_idx):
    """~360 truncated messages from the demo train split, 120 per 3-class label,
    plus 12 multilingual documents.  Returns (texts, label3 list)."""
    rng = np.random.RandomState(SEED)
    by_label: dict[str, list[int]] = {"easy-ham": [], "hard-ham": [], "spam": []}
    for i in tr_idx:
        by_label[msgs[i].label3].append(int(i))
    chosen = []
    for lab in ("easy-ham", "hard-ham", "spam"):
        pool = np.array(by_label[lab])
        chosen.extend(sorted(rng.choice(pool, size=N_PER_CLASS, replace=False).tolist()))
    texts, labels = [], []
    for i in chosen:
        subject, body = strip_headers(msgs[i].text)
        texts.append(f"{subject}\n{body[:TRAIN_BODY_CHARS]}")
        labels.append(msgs[i].label3)
    order = ("easy-ham", "hard-ham", "spam")
    for k, doc in enumerate(training_unicode_docs()):
        texts.append(doc)
        labels.append(order[k % 3])
    return texts, labels


def evaluation_texts(msgs, te_idx) -> list[str]:
    """~150 held-out e-mails (truncated to 4 KB except 3 long ones kept whole,
    one > 20 KB) followed by the hostile texts."""
    rng = np.random.RandomState(SEED + 1)
    te = [int(i) for i in te_idx]
    long_big = [i for i in te if 20_000 < len(msgs[i].text) <= 40_000]
    long_mid = [i for i in te if 6_000 < len(msgs[i].text) <= 15_000]
    keep_full = [long_big[0], long_mid[0], long_mid[len(long_mid) // 2]]
    rest = [i for i in te if i not in keep_full]
    picked = sorted(rng.choice(rest, size=N_HELDOUT_TEXTS - len(keep_full), replace=False).tolist())
    out = [msgs[i].text[:HELDOUT_TRUNCATE] for i in picked]
    # put the three full long messages at fixed, spread positions
    for pos, i in zip((10, 70, 130), keep_full):
        out.insert(pos, msgs[i].text)
    return out + hostile_texts()


# ---------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------

def make_labels(label3: list[str], kind: str):
    if kind == "tri":  # easy-ham / hard-ham / spam
        return list(label3)
    if kind == "bin":  # ham / spam
        return ["spam" if lab == "spam" else "ham" for lab in label3]
    if kind == "tri_int":  # 0 = easy-ham, 1 = hard-ham, 2 = spam
        m = {"easy-ham": 0, "hard-ham": 1, "spam": 2}
        return np.array([m[lab] for lab in label3], dtype=np.int64)
    if kind == "bin_int":  # 0 = ham, 1 = spam
        return np.array([1 if lab == "spam" else 0 for lab in label3], dtype=np.int64)
    if kind == "bin_obj":  # object-dtype array of non-ASCII python strings
        return np.array(["spam ✉" if lab == "spam" else "hām" for lab in label3], dtype=object)
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# The case matrix
# ---------------------------------------------------------------------------

CUSTOM_STOP = ["the", "and", "to", "of", "a", "in", "is", "you", "for", "this", "free", "click"]
ALL = ("joblib", "z", "pkl")
DEFAULT_FORMATS = ("z", "pkl")


def tfidf(**kw):
    kw.setdefault("min_df", 2)
    kw.setdefault("max_features", 1000)
    return TfidfVectorizer(**kw)


def count(**kw):
    kw.setdefault("min_df", 2)
    kw.setdefault("max_features", 1000)
    return CountVectorizer(**kw)


def pipe(vec, clf):
    if isinstance(vec, list):
        return Pipeline(vec + [("clf", clf)])
    return Pipeline([("vec", vec), ("clf", clf)])


def sgd(loss, **kw):
    return SGDClassifier(loss=loss, random_state=0, max_iter=50, tol=None, **kw)


def cases():
    """(name, labels kind, formats, description, pipeline factory)."""
    C = []

    def add(name, labels, desc, factory, formats=DEFAULT_FORMATS):
        C.append((name, labels, formats, desc, factory))

    # --- LogisticRegression ------------------------------------------------
    add("lr_bin_tfidf", "bin", "TfidfVectorizer defaults (min_df=2, max_features) + LogisticRegression, binary ham/spam",
        lambda: pipe(tfidf(), LogisticRegression(max_iter=1000, random_state=0)), ALL)
    add("lr_multinomial_tfidf_bigram", "tri", "TfidfVectorizer ngram (1,2) sublinear_tf + LogisticRegression lbfgs multinomial, 3-class",
        lambda: pipe(tfidf(ngram_range=(1, 2), sublinear_tf=True, max_features=2000), LogisticRegression(max_iter=1000, random_state=0)), ALL)
    add("lr_ovr_count_stop_english", "tri", "CountVectorizer stop_words='english' max_df=0.5 + LogisticRegression multi_class='ovr', 3-class",
        lambda: pipe(count(stop_words="english", max_df=0.5), LogisticRegression(multi_class="ovr", max_iter=1000, random_state=0)))
    add("lr_liblinear_charwb", "tri", "TfidfVectorizer char_wb (2,3) + LogisticRegression liblinear (one-vs-rest), 3-class",
        lambda: pipe(tfidf(analyzer="char_wb", ngram_range=(2, 3)), LogisticRegression(solver="liblinear", random_state=0)))
    add("lr_bin_multinomial", "bin", "TfidfVectorizer token_pattern (?u)\\b\\w+\\b + LogisticRegression multi_class='multinomial' on binary labels (proba = softmax([-d, d]), not the logistic of d)",
        lambda: pipe(tfidf(token_pattern=r"(?u)\b\w+\b"), LogisticRegression(multi_class="multinomial", max_iter=1000, random_state=0)))
    add("lr_int_labels_strip_unicode", "tri_int", "TfidfVectorizer strip_accents='unicode' + LogisticRegression, integer labels 0/1/2",
        lambda: pipe(tfidf(strip_accents="unicode"), LogisticRegression(max_iter=1000, random_state=0)))
    add("lr_no_intercept_bin_int", "bin_int", "CountVectorizer binary=True -> TfidfTransformer + LogisticRegression fit_intercept=False C=10, integer labels 0/1",
        lambda: pipe([("count", count(binary=True)), ("tfidf", TfidfTransformer())], LogisticRegression(fit_intercept=False, C=10.0, max_iter=1000, random_state=0)))
    add("lr_labels_object_unicode", "bin_obj", "TfidfVectorizer + LogisticRegression, labels an object-dtype array of non-ASCII strings ('hām', 'spam ✉')",
        lambda: pipe(tfidf(), LogisticRegression(max_iter=1000, random_state=0)))

    # --- LinearSVC -------------------------------------------------------------
    add("linearsvc_bin_count_alpha", "bin", "CountVectorizer binary=True lowercase=False token_pattern [a-zA-Z]{2,} + LinearSVC, binary",
        lambda: pipe(count(binary=True, lowercase=False, token_pattern=r"[a-zA-Z]{2,}"), LinearSVC(random_state=0)))
    add("linearsvc_tri_char13", "tri", "TfidfVectorizer analyzer='char' ngram (1,3) lowercase=False + LinearSVC, 3-class",
        lambda: pipe(tfidf(analyzer="char", ngram_range=(1, 3), lowercase=False), LinearSVC(random_state=0)), ALL)

    # --- SGDClassifier, every loss ---------------------------------------------
    add("sgd_hinge_bin_l1", "bin", "TfidfVectorizer norm='l1' + SGDClassifier hinge, binary",
        lambda: pipe(tfidf(norm="l1"), sgd("hinge")))
    add("sgd_log_loss_bin_hash_tfidf", "bin", "HashingVectorizer 2**12 (alternate_sign=False, norm=None) -> TfidfTransformer + SGDClassifier log_loss, binary",
        lambda: pipe([("hash", HashingVectorizer(n_features=2**12, alternate_sign=False, norm=None)), ("tfidf", TfidfTransformer())], sgd("log_loss")))
    add("sgd_log_loss_tri", "tri", "TfidfVectorizer sublinear_tf + SGDClassifier log_loss, 3-class (OvR-normalised proba)",
        lambda: pipe(tfidf(sublinear_tf=True), sgd("log_loss")))
    add("sgd_modified_huber_bin", "bin", "TfidfVectorizer + SGDClassifier modified_huber, binary",
        lambda: pipe(tfidf(), sgd("modified_huber")))
    add("sgd_modified_huber_tri", "tri", "CountVectorizer -> TfidfTransformer(sublinear_tf) + SGDClassifier modified_huber, 3-class (clipped-and-normalised proba, zero-sum rows uniform)",
        lambda: pipe([("count", count()), ("tfidf", TfidfTransformer(sublinear_tf=True))], sgd("modified_huber")))
    add("sgd_squared_hinge_tri", "tri", "TfidfVectorizer strip_accents='ascii' + SGDClassifier squared_hinge, 3-class",
        lambda: pipe(tfidf(strip_accents="ascii"), sgd("squared_hinge")))
    add("sgd_perceptron_bin_int", "bin_int", "TfidfVectorizer + SGDClassifier perceptron, integer labels 0/1",
        lambda: pipe(tfidf(), sgd("perceptron")))
    add("sgd_huber_bin", "bin", "TfidfVectorizer use_idf=False + SGDClassifier huber, binary",
        lambda: pipe(tfidf(use_idf=False), sgd("huber")))
    add("sgd_epsilon_insensitive_tri", "tri", "TfidfVectorizer + SGDClassifier epsilon_insensitive, 3-class",
        lambda: pipe(tfidf(), sgd("epsilon_insensitive")))
    add("sgd_squared_epsilon_insensitive_bin", "bin", "TfidfVectorizer + SGDClassifier squared_epsilon_insensitive, binary",
        lambda: pipe(tfidf(), sgd("squared_epsilon_insensitive")))

    # --- RidgeClassifier, PassiveAggressive, Perceptron ------------------------
    add("ridge_bin_count_tfidf", "bin", "CountVectorizer -> TfidfTransformer + RidgeClassifier, binary (classes_ via _label_binarizer)",
        lambda: pipe([("count", count()), ("tfidf", TfidfTransformer())], RidgeClassifier()))
    add("ridge_tri_int", "tri_int", "TfidfVectorizer ngram (1,2) + RidgeClassifier alpha=0.5, integer labels 0/1/2",
        lambda: pipe(tfidf(ngram_range=(1, 2)), RidgeClassifier(alpha=0.5)))
    add("passive_aggressive_bin", "bin", "TfidfVectorizer token_pattern \\S+ + PassiveAggressiveClassifier, binary",
        lambda: pipe(tfidf(token_pattern=r"\S+"), PassiveAggressiveClassifier(random_state=0, max_iter=50, tol=None)))
    add("perceptron_tri", "tri", "TfidfVectorizer token_pattern \\w+|[^\\w\\s]+ + Perceptron, 3-class",
        lambda: pipe(tfidf(token_pattern=r"\w+|[^\w\s]+"), Perceptron(random_state=0, max_iter=50, tol=None)))

    # --- Naive Bayes -------------------------------------------------------------
    add("mnb_count_tri", "tri", "CountVectorizer + MultinomialNB, 3-class",
        lambda: pipe(count(), MultinomialNB()), ALL)
    add("mnb_tfidf_bin", "bin", "TfidfVectorizer ngram (2,3) word + MultinomialNB alpha=0.1, binary",
        lambda: pipe(tfidf(ngram_range=(2, 3)), MultinomialNB(alpha=0.1)))
    add("cnb_tri", "tri", "CountVectorizer custom stop_words + ComplementNB, 3-class",
        lambda: pipe(count(stop_words=CUSTOM_STOP), ComplementNB()))
    add("cnb_norm_bin", "bin", "TfidfVectorizer + ComplementNB norm=True, binary",
        lambda: pipe(tfidf(), ComplementNB(norm=True)))
    add("bnb_binarize0_tri", "tri", "CountVectorizer + BernoulliNB binarize=0.0, 3-class",
        lambda: pipe(count(), BernoulliNB(binarize=0.0)))
    add("bnb_binarize_none_bin", "bin", "CountVectorizer binary=True + BernoulliNB binarize=None, binary",
        lambda: pipe(count(binary=True), BernoulliNB(binarize=None)))
    add("count_float32_mnb_int", "tri_int", "CountVectorizer dtype=float32 + MultinomialNB, integer labels 0/1/2",
        lambda: pipe(count(dtype=np.float32), MultinomialNB()))

    # --- HashingVectorizer variants ---------------------------------------------
    add("hash_2e12_altsign_l2_lr", "bin", "HashingVectorizer 2**12 (alternate_sign=True, norm='l2') + LogisticRegression, binary",
        lambda: pipe(HashingVectorizer(n_features=2**12), LogisticRegression(max_iter=1000, random_state=0)))
    add("hash_2e18_noalt_l1_lr", "bin", "HashingVectorizer 2**18 (alternate_sign=False, norm='l1') + LogisticRegression C=100, binary (compressed joblib only: coef_ is 2 MB raw)",
        lambda: pipe(HashingVectorizer(n_features=2**18, alternate_sign=False, norm="l1"), LogisticRegression(C=100.0, max_iter=1000, random_state=0)), ("z",))
    add("hash_binary_nonorm_bnb_tri", "tri", "HashingVectorizer 2**12 (binary=True, norm=None, alternate_sign=False) + BernoulliNB, 3-class",
        lambda: pipe(HashingVectorizer(n_features=2**12, binary=True, norm=None, alternate_sign=False), BernoulliNB()))
    add("hash_charwb_tfidf_linearsvc", "tri", "HashingVectorizer char_wb (2,4) 2**12 alternate_sign=False norm=None -> TfidfTransformer(smooth_idf=False) + LinearSVC, 3-class",
        lambda: pipe([("hash", HashingVectorizer(analyzer="char_wb", ngram_range=(2, 4), n_features=2**12, alternate_sign=False, norm=None)),
                      ("tfidf", TfidfTransformer(smooth_idf=False))], LinearSVC(random_state=0)))
    add("hash_2e18_altsign_nonorm_sgd", "tri", "HashingVectorizer 2**18 (alternate_sign=True, norm=None, lowercase=False, ngram (1,2)) + SGDClassifier hinge, 3-class (compressed joblib only)",
        lambda: pipe(HashingVectorizer(n_features=2**18, norm=None, lowercase=False, ngram_range=(1, 2)), sgd("hinge", alpha=1e-3)), ("z",))

    # --- FeatureUnion / nesting -------------------------------------------------
    add("union_word_charwb_lr", "tri", "FeatureUnion(word TfidfVectorizer, char_wb (2,4) TfidfVectorizer) + LogisticRegression, 3-class",
        lambda: Pipeline([("features", FeatureUnion([
            ("word", tfidf(max_features=800)),
            ("char", tfidf(analyzer="char_wb", ngram_range=(2, 4), max_features=800))])),
            ("clf", LogisticRegression(max_iter=1000, random_state=0))]), ALL)
    add("union_weights_linearsvc", "bin", "FeatureUnion with transformer_weights {word: 1.0, char: 0.5} (char_wb (1,3) strip_accents='unicode') + LinearSVC, binary",
        lambda: Pipeline([("features", FeatureUnion([
            ("word", tfidf(max_features=800, sublinear_tf=True)),
            ("char", tfidf(analyzer="char_wb", ngram_range=(1, 3), strip_accents="unicode", max_features=800))],
            transformer_weights={"word": 1.0, "char": 0.5})),
            ("clf", LinearSVC(random_state=0))]))
    add("nested_pipeline_count_tfidf_lr", "bin", "Pipeline(Pipeline(CountVectorizer -> TfidfTransformer(norm='l1'))) + LogisticRegression C=1000, binary (a nested Pipeline step)",
        lambda: Pipeline([("features", Pipeline([("count", count()), ("tfidf", TfidfTransformer(norm="l1"))])),
                          ("clf", LogisticRegression(C=1000.0, max_iter=5000, random_state=0))]))

    # --- n-gram vocabularies closed under prefixes (the engine's pair mode) -------
    add("pairs_tfidf_trigram_stop_lr", "tri", "TfidfVectorizer ngram_range=(1,3) stop_words='english' min_df=3, no max_features (every n-gram's prefix is in the vocabulary) + LogisticRegression, 3-class",
        lambda: pipe(tfidf(ngram_range=(1, 3), stop_words="english", min_df=3, max_features=None), LogisticRegression(max_iter=1000, random_state=0)))
    add("pairs_count_S_bigram_mnb", "bin", "CountVectorizer token_pattern \\S+ ngram_range=(1,2) min_df=3, no max_features + MultinomialNB, binary",
        lambda: pipe(count(token_pattern=r"\S+", ngram_range=(1, 2), min_df=3, max_features=None), MultinomialNB()))

    # --- remaining vectorizer parameters ------------------------------------------
    add("tfidf_ascii_nolower_S_lr", "tri", "TfidfVectorizer strip_accents='ascii' lowercase=False token_pattern \\S+ + LogisticRegression, 3-class",
        lambda: pipe(tfidf(strip_accents="ascii", lowercase=False, token_pattern=r"\S+"), LogisticRegression(max_iter=1000, random_state=0)))
    add("tfidf_letters_custom_stop_lr", "bin", "TfidfVectorizer token_pattern (?u)\\b[^\\d\\W]+\\b, custom stop_words, min_df=0.01 + LogisticRegression, binary",
        lambda: pipe(tfidf(token_pattern=r"(?u)\b[^\d\W]+\b", stop_words=CUSTOM_STOP, min_df=0.01), LogisticRegression(max_iter=1000, random_state=0)))
    add("tfidf_noidf_l1_mnb", "tri", "TfidfVectorizer use_idf=False norm='l1' + MultinomialNB, 3-class",
        lambda: pipe(tfidf(use_idf=False, norm="l1"), MultinomialNB()))
    add("tfidf_nosmooth_nonorm_sublinear_lr", "tri_int", "TfidfVectorizer smooth_idf=False norm=None sublinear_tf=True + LogisticRegression, integer labels 0/1/2",
        lambda: pipe(tfidf(smooth_idf=False, norm=None, sublinear_tf=True), LogisticRegression(max_iter=2000, random_state=0)))
    add("tfidf_float32_lr", "bin", "TfidfVectorizer dtype=float32 + LogisticRegression, binary",
        lambda: pipe(tfidf(dtype=np.float32), LogisticRegression(max_iter=1000, random_state=0)))
    add("tfidf_float32_liblinear_tri", "tri", "TfidfVectorizer dtype=float32 ngram (1,2) + LogisticRegression liblinear (coef_ stays float32), 3-class",
        lambda: pipe(tfidf(dtype=np.float32, ngram_range=(1, 2)), LogisticRegression(solver="liblinear", random_state=0)))
    add("tfidf_binary_maxdf_int_sgd", "bin", "TfidfVectorizer binary=True max_df=200 (absolute) + SGDClassifier modified_huber, binary",
        lambda: pipe(tfidf(binary=True, max_df=200), sgd("modified_huber")))
    add("tfidf_char_unicode_nolower_cnb", "tri", "TfidfVectorizer analyzer='char' (2,3) strip_accents='unicode' lowercase=False + ComplementNB, 3-class",
        lambda: pipe(tfidf(analyzer="char", ngram_range=(2, 3), strip_accents="unicode", lowercase=False), ComplementNB()))

    return C


def refused_cases():
    """(name, error_contains, description, object).  Saved as NAME.pkl."""
    return [
        ("refused_custom_tokenizer", "custom_tokenizer",
         "TfidfVectorizer(tokenizer=falcon_fixture_helpers.custom_tokenizer): arbitrary Python callable",
         lambda: pipe(tfidf(tokenizer=helpers.custom_tokenizer, token_pattern=None, max_features=200), LogisticRegression(max_iter=1000, random_state=0))),
        ("refused_custom_preprocessor", "shout_preprocessor",
         "TfidfVectorizer(preprocessor=falcon_fixture_helpers.shout_preprocessor): arbitrary Python callable",
         lambda: pipe(tfidf(preprocessor=helpers.shout_preprocessor, max_features=200), LogisticRegression(max_iter=1000, random_state=0))),
        ("refused_custom_analyzer", "custom_analyzer",
         "CountVectorizer(analyzer=falcon_fixture_helpers.custom_analyzer): arbitrary Python callable",
         lambda: pipe(count(analyzer=helpers.custom_analyzer, max_features=200), MultinomialNB())),
        ("refused_adaboost", "AdaBoostClassifier",
         "TfidfVectorizer + AdaBoostClassifier: unsupported estimator",
         lambda: pipe(tfidf(max_features=200), AdaBoostClassifier(n_estimators=3, random_state=0))),
        ("refused_kneighbors", "KNeighborsClassifier with metric \"manhattan\"",
         "TfidfVectorizer + KNeighborsClassifier(metric='manhattan'): only euclidean and cosine are reproduced",
         lambda: pipe(tfidf(max_features=200), KNeighborsClassifier(n_neighbors=3, metric="manhattan"))),
    ]


# ---------------------------------------------------------------------------
# Malicious pickles
# ---------------------------------------------------------------------------

# Harmless, but leaves a trace: check_parity.py runs Falcon in a scratch
# directory and fails if this file appears there.
MALICIOUS_SENTINEL = "falcon_malicious_pickle_was_executed"
MALICIOUS_COMMAND = f"touch {MALICIOUS_SENTINEL}"


class _Evil:
    """Reduces to malicious_marker(cmd); the marker global is rewritten to os.system."""

    def __reduce__(self):
        return (helpers.malicious_marker, (MALICIOUS_COMMAND,))


def malicious_pickle(obj) -> bytes:
    """Pickle with protocol 2 (GLOBAL opcodes, no framing) so the global
    reference can be rewritten in place to ``os system``."""
    data = pickle.dumps(obj, protocol=2)
    marker = b"cfalcon_fixture_helpers\nmalicious_marker\n"
    assert data.count(marker) == 1, data
    data = data.replace(marker, b"cos\nsystem\n")
    # Validate without executing: a restricted unpickler records the globals.
    seen = []

    class Probe(pickle.Unpickler):
        def find_class(self, module, name):
            seen.append(f"{module}.{name}")
            if (module, name) == ("os", "system"):
                return lambda cmd: ("os.system called with", cmd)
            return super().find_class(module, name)

    import io
    Probe(io.BytesIO(data)).load()
    assert "os.system" in seen, seen
    return data


# ---------------------------------------------------------------------------
# Expected outputs
# ---------------------------------------------------------------------------

def jsonable(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v
    raise TypeError(f"unexpected label type {type(v)}: {v!r}")


def expected_outputs(p, texts) -> dict:
    classes = [jsonable(c) for c in p.classes_]
    pred = [jsonable(c) for c in p.predict(texts)]
    proba = p.predict_proba(texts).tolist() if hasattr(p, "predict_proba") else None
    dec = None
    if hasattr(p, "decision_function"):
        d = np.asarray(p.decision_function(texts))
        dec = d.tolist()
    for arr in (proba, dec):
        if arr is not None:
            assert np.all(np.isfinite(np.asarray(arr, dtype=np.float64))), "non-finite output"
    return {"classes": classes, "predict": pred, "predict_proba": proba, "decision_function": dec}


def save(p, out: Path, name: str, formats) -> list[str]:
    files = []
    if "joblib" in formats:
        joblib.dump(p, out / f"{name}.joblib")
        files.append(f"{name}.joblib")
    if "z" in formats:
        joblib.dump(p, out / f"{name}.z.joblib", compress=3)
        files.append(f"{name}.z.joblib")
    if "pkl" in formats:
        with open(out / f"{name}.pkl", "wb") as f:
            pickle.dump(p, f, protocol=4)
        files.append(f"{name}.pkl")
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--cache-dir", type=Path, default=spam_corpus.DEFAULT_CACHE)
    ap.add_argument("--only", nargs="*", help="regenerate only these case names (manifest is still rewritten in full)")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    msgs, stats = spam_corpus.load_corpus(args.cache_dir)
    tr_idx, te_idx = spam_corpus.demo_split(msgs)
    train_x, train_label3 = training_set(msgs, tr_idx)
    texts = evaluation_texts(msgs, te_idx)
    print(f"training subset: {len(train_x)} docs; evaluation texts: {len(texts)}")
    (out / "texts.json").write_text(json.dumps(texts, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    # Remove stale outputs of a previous run (only files its manifest lists).
    old_manifest = out / "manifest.json"
    if not args.only and old_manifest.exists():
        old = json.loads(old_manifest.read_text(encoding="utf-8"))
        stale = [f for c in old.get("cases", []) for f in c.get("files", []) + [c.get("expected", "")]]
        stale += [r.get("file", "") for r in old.get("refused", [])]
        for f in stale:
            if f and (out / f).is_file():
                (out / f).unlink()

    manifest = {
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": ".".join(map(str, sys.version_info[:3])),
        "dataset": stats["dataset"],
        "texts": "texts.json",
        "n_texts": len(texts),
        "tolerance": "labels identical; every probability / decision value within 1e-9 * max(1, |expected|)",
        "cases": [],
        "refused": [],
    }
    for name, kind, formats, desc, factory in cases():
        p = factory()
        y = make_labels(train_label3, kind)
        if args.only and name not in args.only:
            files = [f for f in (f"{name}.joblib", f"{name}.z.joblib", f"{name}.pkl") if (out / f).exists()]
            manifest["cases"].append({"name": name, "labels": kind, "files": files, "expected": f"{name}.expected.json", "description": desc})
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # multi_class=..., liblinear multiclass
            warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
            p.fit(train_x, y)
        exp = expected_outputs(p, texts)
        files = save(p, out, name, formats)
        # Every saved form must load back and agree exactly.
        for f in files:
            q = joblib.load(out / f)
            assert expected_outputs(q, texts) == exp, f
        (out / f"{name}.expected.json").write_text(json.dumps(exp) + "\n", encoding="utf-8")
        manifest["cases"].append({"name": name, "labels": kind, "files": files, "expected": f"{name}.expected.json", "description": desc})
        n_feat = _n_features(p)
        print(f"  {name:42s} classes={exp['classes']} features={n_feat} files={files}")

    for name, contains, desc, factory in refused_cases():
        p = factory()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p.fit(train_x, make_labels(train_label3, "bin"))
        with open(out / f"{name}.pkl", "wb") as f:
            pickle.dump(p, f, protocol=4)
        manifest["refused"].append({"name": name, "file": f"{name}.pkl", "error_contains": contains, "description": desc})

    # Malicious pickles: a bare os.system reduce, and one hidden inside a fitted Pipeline.
    (out / "refused_malicious_os_system.pkl").write_bytes(malicious_pickle(_Evil()))
    manifest["refused"].append({
        "name": "refused_malicious_os_system", "file": "refused_malicious_os_system.pkl", "error_contains": "os.system", "sentinel": MALICIOUS_SENTINEL,
        "description": "protocol-2 pickle whose top-level REDUCE calls os.system(...) (GLOBAL 'os system'); must be refused without executing anything",
    })
    hidden = pipe(tfidf(max_features=200), MultinomialNB())
    hidden.fit(train_x, make_labels(train_label3, "bin"))
    hidden.steps[1][1].alpha = _Evil()  # os.system(...) inside the classifier's state
    (out / "refused_malicious_in_pipeline.pkl").write_bytes(malicious_pickle(hidden))
    manifest["refused"].append({
        "name": "refused_malicious_in_pipeline", "file": "refused_malicious_in_pipeline.pkl", "error_contains": "os.system", "sentinel": MALICIOUS_SENTINEL,
        "description": "a fitted Pipeline(TfidfVectorizer, MultinomialNB) pickle (protocol 2) whose MultinomialNB state contains an os.system(...) REDUCE",
    })

    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    total = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"{len(manifest['cases'])} cases, {len(manifest['refused'])} refused; {out} holds {total / 1e6:.2f} MB")


def _n_features(p) -> int | str:
    first = p.steps[0][1]
    if hasattr(first, "vocabulary_"):
        return len(first.vocabulary_)
    if isinstance(first, HashingVectorizer):
        return first.n_features
    if isinstance(first, FeatureUnion):
        return sum(len(t.vocabulary_) for _, t in first.transformer_list)
    if isinstance(first, Pipeline):
        return len(first.steps[0][1].vocabulary_)
    return "?"


if __name__ == "__main__":
    main()
