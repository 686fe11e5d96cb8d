"""A tiny bilingual shop data set and the real featurizers of config.yml, run in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.count_vectors import SentenceCountVectorsFeaturizer
from bot.components.sentence_encoder import SentenceEncoder

EXAMPLES: Dict[str, List[str]] = {
    "greet": ["hello", "hi there", "good morning", "hey", "שלום", "היי", "בוקר טוב", "מה נשמע"],
    "order_status": [
        "where is my order", "has my package shipped yet", "track my order please", "my order status",
        "איפה ההזמנה שלי", "מתי החבילה תגיע", "מה מצב ההזמנה", "אני רוצה לעקוב אחרי ההזמנה",
    ],
    "faq/opening_hours": [
        "when are you open", "what are your opening hours", "are you open on friday", "what time do you close",
        "מתי אתם פתוחים", "מה שעות הפתיחה", "אתם פתוחים בשישי", "עד איזו שעה אתם פתוחים",
    ],
    "faq/returns_policy": [
        "how do I return a product", "what is your return policy", "can I send something back",
        "how many days do I have to return", "איך מחזירים מוצר", "מה מדיניות ההחזרות", "אפשר להחזיר מוצר",
        "כמה זמן יש להחזיר",
    ],
}
RESPONSES = {
    "utter_faq/opening_hours": [{"text": "We are open Sunday to Thursday, 9:00 to 18:00."}],
    "utter_faq/returns_policy": [{"text": "You can return any product within 14 days."}],
}


def training_data() -> TrainingData:
    """The examples above as Rasa training data (``faq/x`` examples carry the retrieval intent ``faq``)."""
    messages = []
    for label, texts in EXAMPLES.items():
        for text in texts:
            data: Dict[str, Any] = {TEXT: text, INTENT: label.split("/")[0]}
            if "/" in label:
                data[INTENT_RESPONSE_KEY] = label
            messages.append(Message(data))
    return TrainingData(messages, responses=RESPONSES)


class Pipeline:
    """Tokenizer, word and character counts, and the e5 encoder, trained on one data set."""

    def __init__(self, storage: Path, cache_dir: Path, data: Optional[TrainingData] = None) -> None:
        """Trains the featurizers on ``data`` (the examples above by default) and featurizes it."""
        self.storage = LocalModelStorage(storage)
        self.data = data or training_data()
        self.tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
        self.counts = [
            SentenceCountVectorsFeaturizer.create(
                {**SentenceCountVectorsFeaturizer.get_default_config(), **config}, self.storage, Resource(name),
                self.context(name),
            )
            for name, config in [("words", {}), ("chars", {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5})]
        ]
        self.encoder = SentenceEncoder({"cache_dir": str(cache_dir)}, "e5")
        self.tokenizer.process_training_data(self.data)
        for featurizer in self.counts:
            featurizer.train(self.data)
            featurizer.process_training_data(self.data)
        self.encoder.process_training_data(self.data)

    @staticmethod
    def context(name: str) -> ExecutionContext:
        """An execution context for a node called ``name``."""
        return ExecutionContext(GraphSchema({}), "test", node_name=name)

    def featurize(self, *texts: str) -> List[Message]:
        """Incoming messages with the same features the trained pipeline gives."""
        messages = [Message({TEXT: text}) for text in texts]
        self.tokenizer.process(messages)
        for featurizer in self.counts:
            featurizer.process(messages)
        self.encoder.process(messages)
        return messages


def sentence_vector(message: Message) -> np.ndarray:
    """The message's dense sentence feature (one row), as the e5 encoder added it."""
    _, sentence = message.get_dense_features(TEXT)
    assert sentence is not None, "no dense sentence feature"
    return np.asarray(sentence.features)
