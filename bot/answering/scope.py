"""What lies outside the centre's remit, so that the bot declines instead of stretching a document.

Dense similarity alone cannot tell "the closest document is weakly related" from "the question is about
something else": a question about gold prices still has a nearest chunk. Comparing the question with
short descriptions of topics the centre does not advise on gives that missing reference point.
"""

from __future__ import annotations

import threading

import numpy as np

OUT_OF_REMIT = [
    "giá vàng, tỷ giá ngoại tệ, giá cổ phiếu, chứng khoán, đầu tư tài chính cá nhân",
    "thời tiết, dự báo mưa nắng, nhiệt độ",
    "nấu ăn, công thức món ăn, làm bánh, nhà hàng ngon",
    "bóng đá, thể thao, kết quả trận đấu, giải trí, phim ảnh, ca nhạc",
    "sức khỏe, bệnh tật, thuốc, giảm cân, làm đẹp",
    "hôn nhân gia đình, ly hôn, thừa kế, đất đai, nhà ở",
    "tranh chấp hợp đồng thương mại, đòi nợ, khởi kiện ra tòa án, án phí, hình sự",
    "du lịch, vé máy bay, khách sạn, visa",
    "học tập, bài văn, bài tập về nhà, tình yêu, tâm sự",
    "thuế thu nhập cá nhân, bảo hiểm xã hội của người lao động, lương thưởng",
    "weather, sports, cooking recipes, celebrities, stock tips, personal health",
]


class Scope:
    def __init__(self, embedder, topics: list[str] | None = None) -> None:
        self.embedder = embedder
        self.topics = topics or OUT_OF_REMIT
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def _anchors(self) -> np.ndarray:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    self._vectors = self.embedder.embed_passages(self.topics)
        return self._vectors

    def margin(self, query_vector: np.ndarray, top_dense: float) -> float:
        """Best out-of-remit similarity minus the best chunk similarity (positive: off topic)."""
        return float((self._anchors() @ query_vector).max()) - float(top_dense)
