"""Models as people save them (issue #11, section 1): tuples and lists of
fitted estimators, several files, pickled searches."""

from __future__ import annotations

from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, RandomizedSearchCV
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from .common import Case, Chain, RefusedCase, count, labels, tfidf


def _parts(make_vec, make_clf, kind):
    def fit(x, label3):
        vec = make_vec()
        clf = make_clf()
        clf.fit(vec.fit_transform(x), labels(label3, kind))
        return (vec, clf)

    return fit


def _search(cls, kind, **kw):
    def fit(x, label3):
        p = Pipeline([("vec", tfidf()), ("clf", LogisticRegression(max_iter=1000, random_state=0))])
        s = cls(p, {"clf__C": [0.3, 3.0], "vec__sublinear_tf": [False, True]}, cv=3, **kw)
        return s.fit(x, labels(label3, kind))

    return fit


def cases():
    return [
        Case("tuple_tfidf_lr", "(TfidfVectorizer, LogisticRegression) pickled as a tuple",
             _parts(tfidf, lambda: LogisticRegression(max_iter=1000, random_state=0), "tri"),
             forms=("z", "pkl"), predictor=Chain),
        Case("list_count_mnb", "[CountVectorizer, MultinomialNB] pickled as a list",
             lambda x, l3: list(_parts(count, MultinomialNB, "bin")(x, l3)),
             forms=("z",), predictor=Chain),
        Case("two_files_tfidf_svc", "vectorizer.joblib + classifier.joblib (TfidfVectorizer (1,2), LinearSVC)",
             _parts(lambda: tfidf(ngram_range=(1, 2)), lambda: LinearSVC(random_state=0), "tri"),
             forms=("parts",), predictor=Chain),
        Case("gridsearch_tfidf_lr", "GridSearchCV(Pipeline(tfidf, LR), C x sublinear_tf, cv=3) pickled whole",
             _search(GridSearchCV, "bin"), forms=("z", "pkl")),
        Case("randomsearch_tfidf_lr", "RandomizedSearchCV(Pipeline(tfidf, LR), n_iter=3) pickled whole",
             _search(RandomizedSearchCV, "tri", n_iter=3, random_state=0)),
        Case("halvingsearch_tfidf_lr", "HalvingGridSearchCV(Pipeline(tfidf, LR)) pickled whole",
             _search(HalvingGridSearchCV, "bin", random_state=0)),
        RefusedCase("refused_search_refit_false", "GridSearchCV(refit=False): no best_estimator_",
                    _search(GridSearchCV, "bin", refit=False), forms=("z",), error_contains="refit=False"),
        RefusedCase("refused_function_transformer_step", "Pipeline(tfidf, FunctionTransformer(), LR): a function step",
                    lambda x, l3: Pipeline([("vec", tfidf()), ("f", FunctionTransformer()),
                                            ("clf", LogisticRegression(max_iter=1000))]).fit(x, labels(l3, "bin")),
                    forms=("z",), error_contains="FunctionTransformer steps are not supported"),
        RefusedCase("refused_tuple_with_labels", "(vectorizer, classifier, ['ham', 'spam']): a label list in the tuple",
                    lambda x, l3: _parts(tfidf, lambda: SGDClassifier(random_state=0), "bin")(x, l3) + (["ham", "spam"],),
                    forms=("z",), error_contains="not a scikit-learn estimator"),
    ]
