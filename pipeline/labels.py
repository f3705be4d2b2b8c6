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
    "unmarked_fake": "снята отметка «возможный фейк»",
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

#: who did it, for actors that are not people
ACTOR_NAMES = {"system": "система", "scheduler": "планировщик", "cli": "командная строка", "demo": "демонстрационные данные", "?": "неизвестный", "": "неизвестный"}

#: how an answer came in (responses.channel)
CHANNEL_NAMES = {"web": "веб-интерфейс", "api": "API", "telegram": "Telegram", "tgweb": "Telegram", "vk": "ВКонтакте", "email": "e-mail", "cli": "командная строка", "file": "файл"}

#: the audit log's actions
AUDIT_ACTIONS = {
    "login": "вход в систему",
    "login_failed": "неудачная попытка входа",
    "login_blocked": "вход временно заблокирован",
    "logout": "выход из системы",
    "refused": "действие не выполнено",
    "report.download": "отчёт открыт",
    "incidents.export": "выгружены инциденты всех регионов (CSV)",
    "review.confirm": "проверка: классификация подтверждена",
    "review.correct": "проверка: классификация исправлена",
    "review.not_problem": "проверка: не проблема",
    "review.merge": "проверка: пост добавлен к инциденту",
    "review.fake": "проверка: возможный фейк",
    "review.undo": "проверка: решение отменено",
    "incident.answer": "записан ответ",
    "incident.acknowledge": "инцидент принят в работу",
    "incident.resolve": "инцидент решён",
    "incident.reject": "инцидент отклонён",
    "incident.reopen": "инцидент открыт повторно",
    "incident.reroute": "инцидент перенаправлен",
    "incident.merge": "инциденты объединены",
    "incident.fake": "отмечен возможный фейк",
    "api.answer": "ответ через API",
    "api.acknowledge": "принят в работу через API",
    "api.resolve": "решён через API",
    "api.reject": "отклонён через API",
    "api.reopen": "открыт повторно через API",
    "model.activate": "активация версии модели",
    "model.rollback": "откат модели на предыдущую версию",
    "model.retrain": "запуск переобучения модели",
    "user.add": "создан пользователь",
    "user.change": "изменены роль или орган власти пользователя",
    "user.password_reset": "пароль пользователя сброшен",
    "user.deactivate": "учётная запись отключена",
    "user.activate": "учётная запись включена",
    "password.change": "пароль изменён",
    "password.change_failed": "неудачная смена пароля",
    "token.add": "выдан токен API",
    "token.revoke": "токен API отозван",
}

MONTH_NAMES = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь")
