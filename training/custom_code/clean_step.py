"""A custom Pipeline step class before the vectorizer, and a tokenizer
function with a module-level Snowball stemmer (ignore_stopwords=False).
Used as ``Pipeline([("clean", TextCleaner()), ("tfidf",
TfidfVectorizer(tokenizer=snowball_tokenize)), ("clf", ...)])``."""
import re

from nltk.stem.snowball import SnowballStemmer
from sklearn.base import BaseEstimator, TransformerMixin

STEMMER = SnowballStemmer("english")


class TextCleaner(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return [re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", x)).strip().lower() for x in X]


def snowball_tokenize(text):
    return [STEMMER.stem(t) for t in text.split() if len(t) >= 2]
