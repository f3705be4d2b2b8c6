"""Russian names of codes shown to users: incident states, event kinds, stages, roles.

One place for them, so the CLI, the notifications and the web pages say the
same thing.
"""

from __future__ import annotations

STATE_NAMES = {
    "new": "новый",
    "routed": "направлен исполнителю",
    "acknowledged": "принят в работу",
    "answered": "дан ответ",
    "resolved": "решён",
    "rejected": "отклонён",
    "reopened": "открыт повторно",
}

EVENT_NAMES = {
    "created": "создан",
    "post_added": "добавлен пост",
    "post_removed": "исключён пост",
    "routed": "направлен",
    "rerouted": "перенаправлен",
    "acknowledged": "принят в работу",
    "answer_first_reply": "первичный ответ",
    "answer_interim": "промежуточный ответ",
    "answer_final": "окончательный ответ",
    "resolved": "решён",
    "rejected": "отклонён",
    "reopened": "открыт повторно",
    "reminder_sent": "напоминание",
    "escalated": "эскалация",
    "merged": "объединение (принял)",
    "merged_into": "объединён с другим",
    "split": "разделение",
    "marked_fake": "отмечен как возможный фейк",
    "reclassified": "изменена классификация",
    "graded": "оценка ответа",
    "review_undone": "отменено решение оператора",
    "answer_flagged": "ответ не по существу (этап не закрыт)",
    "answer_reviewed": "проверено качество ответа",
}

#: Answer-quality readings and flags (``nlp/answers.py``), as people see them.
ANSWER_FLAG_NAMES = {
    "formulaic": "формальный ответ без срока и действия",
    "refusal": "отказ или отсылка в другой орган",
    "rude": "грубый или конфликтный ответ",
    "review": "качество ответа нужно проверить",
}

STAGE_NAMES = {"first_reply": "первичный ответ", "interim": "промежуточный ответ", "final": "окончательный ответ"}

ROLE_NAMES = {
    "specialist": "специалист",
    "sector_head": "ответственный за отраслевой блок",
    "head": "руководитель ЦУР",
    "curator": "куратор",
    "executive": "ответственный исполнитель",
}

DECISION_NAMES = {"confirm": "подтверждено", "correct": "исправлено", "not_problem": "не проблема", "merge": "объединено", "fake": "возможный фейк"}

PLATFORM_NAMES = {"vk": "ВКонтакте", "telegram": "Telegram", "tgweb": "Telegram (веб)", "file": "файл"}
