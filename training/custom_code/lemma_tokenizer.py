"""Surveyed pattern (scikit-learn's own documentation example): a class whose
instances tokenize with NLTK's word_tokenize and lemmatize with WordNet.
Used as ``CountVectorizer(tokenizer=LemmaTokenizer())``."""
from nltk import word_tokenize
from nltk.stem import WordNetLemmatizer


class LemmaTokenizer:
    def __init__(self):
        self.wnl = WordNetLemmatizer()

    def __call__(self, doc):
        return [self.wnl.lemmatize(t) for t in word_tokenize(doc)]
