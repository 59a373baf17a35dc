"""Surveyed pattern: clean URLs and @mentions, NLTK word_tokenize, drop
non-alphabetic tokens and NLTK's English stop words, Porter-stem the rest.
Used as ``TfidfVectorizer(tokenizer=tokenize)``."""
import re

from nltk import word_tokenize
from nltk.corpus import stopwords
from nltk.stem import PorterStemmer

STOP = set(stopwords.words("english"))
STEMMER = PorterStemmer()


def tokenize(text):
    text = re.sub(r"https?://\S+|www\.\S+", " ", text)
    text = re.sub(r"@\w+", " ", text)
    tokens = word_tokenize(text.lower())
    return [STEMMER.stem(t) for t in tokens if t.isalpha() and t not in STOP]
