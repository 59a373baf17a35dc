"""The reference: the Python serving stack Falcon replaces.

A FastAPI app that loads the same `model.joblib` with scikit-learn and
answers `POST /predict {"text": ...}` with the same fields as Falcon
(`label`, `probabilities`, `decision`). Served by gunicorn with Uvicorn
workers (see gunicorn.conf.py); `FALCON_REF_MODEL` picks the model file.
"""

import os

import joblib
from fastapi import FastAPI
from pydantic import BaseModel

MODEL_PATH = os.environ.get("FALCON_REF_MODEL", "models/spam/1/model.joblib")
model = joblib.load(MODEL_PATH)
classes = [str(c) for c in model.classes_]
app = FastAPI(title="falcon reference (scikit-learn)")


class PredictRequest(BaseModel):
    text: str


@app.post("/predict")
def predict(req: PredictRequest):
    texts = [req.text]
    proba = model.predict_proba(texts)[0]
    decision = model.decision_function(texts)[0]
    label = model.classes_[proba.argmax()]
    return {
        "label": label.item() if hasattr(label, "item") else label,
        "probabilities": {c: float(p) for c, p in zip(classes, proba)},
        "decision": float(decision),
    }


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
