"""NLTK's TweetTokenizer (lower-casing, handles stripped, elongations
reduced) and the Lancaster stemmer, in a tokenizer function.
Used as ``TfidfVectorizer(tokenizer=tweet_tokens)``."""
from nltk.stem import LancasterStemmer
from nltk.tokenize import TweetTokenizer

TWEET = TweetTokenizer(preserve_case=False, strip_handles=True, reduce_len=True)
STEMMER = LancasterStemmer()


def tweet_tokens(text):
    return [STEMMER.stem(t) for t in TWEET.tokenize(text)]
