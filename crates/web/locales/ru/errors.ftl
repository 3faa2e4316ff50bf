### derbes — API error messages (RFC 9457 problems and invalid fields), Russian.
### Ids: problem-<code>-title, problem-<code>-detail, field-<code>, field-<code>-<detail>;
### every "_" of a code becomes "-". Titles: short, no final full stop. Details and field
### messages: full sentences. Never put a personal value in a message: the only arguments
### are category codes or names ($categories, $category) and limits ($max: a number;
### $limit: a size with its unit, e.g. "1 MiB").
### Kept in step with locales/kk/errors.ftl and locales/en/errors.ftl (same ids).

-name-rules = допускаются буквы кириллицы или латиницы, дефис, апостроф и одиночные пробелы, не более 60 символов; в начале и в конце должна стоять буква

## Problems raised by the service

problem-unknown-purpose-title = Неизвестная цель обработки
problem-unknown-purpose-detail = Указанной цели обработки персональных данных нет в реестре целей. Укажите код цели из реестра.

problem-purpose-not-permitted-title = Цель обработки не разрешена
problem-purpose-not-permitted-detail = Вашему ключу API не разрешено обрабатывать персональные данные для этой цели. Обратитесь к лицу, ответственному за организацию обработки персональных данных в МФО.

problem-category-not-allowed-title = Данные не нужны для этой цели
problem-category-not-allowed-detail = Для указанной цели обработки не требуются данные следующих категорий: { $categories }. По принципу минимизации (п. 3.2 Политики) обрабатываются только те данные, которые необходимы для цели. Уберите эти категории из запроса или укажите подходящую цель.

problem-invalid-values-title = Недопустимые значения
problem-invalid-values-detail = Одно или несколько значений не прошли проверку, поэтому ничего не сохранено. Исправьте значения, указанные в списке ошибок, и повторите запрос.

problem-not-searchable-title = Поиск по этой категории невозможен
problem-not-searchable-detail = Искать субъекта можно только по категориям, для которых в реестре предусмотрен поиск (например, по ИИН или номеру мобильного телефона). По указанной категории поиск не предусмотрен.

problem-subject-not-found-title = Субъект не найден
problem-subject-not-found-detail = Субъект персональных данных не найден. Проверьте идентификатор субъекта.

problem-subject-exists-title = Субъект уже существует
problem-subject-exists-detail = Значение, которое должно быть уникальным (например, ИИН или номер мобильного телефона), уже записано у другого субъекта. Новый субъект не создан: найдите существующего субъекта и работайте с его данными.

problem-unique-value-taken-title = Значение принадлежит другому субъекту
problem-unique-value-taken-detail = Значение, которое должно быть уникальным (например, ИИН или номер мобильного телефона), уже записано у другого субъекта, поэтому его нельзя присвоить этому. Ничего не изменено.

problem-no-audit-proof-title = Доказательство по журналу аудита недоступно
problem-no-audit-proof-detail = Эту запись журнала аудита ещё не покрывает ни одна подписанная контрольная точка, или контрольной точки запрошенного размера нет. Контрольные точки подписываются регулярно; повторите запрос после следующей.

problem-value-missing-title = Нет значения для исправления
problem-value-missing-detail = В категории «{ $category }» нет текущего значения, которое можно исправить. Чтобы добавить значение, используйте дополнение, а не исправление.

problem-value-exists-title = Значение уже есть
problem-value-exists-detail = В категории «{ $category }» уже есть значение. Чтобы изменить его, используйте исправление, а не дополнение.

problem-empty-request-title = Пустой запрос
problem-empty-request-detail = Запрос не содержит ни одного значения или элемента, поэтому выполнять нечего. Укажите хотя бы одно значение.

problem-too-many-items-title = Слишком много элементов
problem-too-many-items-detail = В запросе больше элементов, чем допускается за один вызов. Наибольшее допустимое число элементов: { $max }. Разделите запрос на несколько частей.

problem-unauthenticated-title = Требуется аутентификация
problem-unauthenticated-detail = Ключ API не передан, неизвестен или отозван. Передайте действующий ключ API.

problem-integrity-failure-title = Нарушена целостность данных
problem-integrity-failure-detail = Сохранённые данные не прошли проверку подлинности: возможно, они были изменены или перенесены. Операция остановлена. Обратитесь к администратору системы.

problem-key-mismatch-title = Ключи шифрования не соответствуют базе данных
problem-key-mismatch-detail = Файл ключей не соответствует базе данных (неверная или отсутствующая версия главного ключа). Данные недоступны, пока администратор не подключит нужный файл ключей.

problem-crypto-failure-title = Ошибка шифрования
problem-crypto-failure-detail = Не удалось выполнить криптографическую операцию. Повторите запрос позже; если ошибка повторится, обратитесь к администратору системы.

problem-storage-failure-title = Ошибка хранилища данных
problem-storage-failure-detail = База данных не смогла выполнить операцию. Повторите запрос позже; если ошибка повторится, обратитесь к администратору системы.

problem-unavailable-title = Сервис недоступен
problem-unavailable-detail = Сервис временно недоступен (например, останавливается для обслуживания). Повторите запрос через некоторое время.

## Реестр согласий, версии политики, заявки и займы (PRE-1, 6.1, 6.2, 7.1c, L-PURPOSE)

problem-consent-required-title = Нет согласия на эту цель
problem-consent-required-detail = Эта цель обработки основана на согласии субъекта, а субъект его не давал, отозвал или срок согласия истёк (Закон № 94-V, ст. 7 и 8). Обработка не выполнена.

problem-processing-blocked-title = Обработка заблокирована после отзыва согласия
problem-processing-blocked-detail = Субъект отозвал согласие (подпункт «c» пункта 7.1 Политики). Его данные хранятся только там, где этого требует закон, и не могут использоваться для этой цели.

problem-policy-consent-required-title = Требуется согласие с политикой
problem-policy-consent-required-detail = Заявку можно подать только с явным согласием с действующей версией политики обработки персональных данных (пункты 6.1 и 6.2 Политики). Ничего не сохранено.

problem-policy-version-not-current-title = Не действующая версия политики
problem-policy-version-not-current-detail = Согласие ссылается на версию политики, которая сейчас не действует. Покажите субъекту действующую версию (GET /api/v1/policy/current) и зарегистрируйте согласие с ней.

problem-policy-not-found-title = Версия политики не найдена
problem-policy-not-found-detail = Такая версия политики не опубликована, или ни одна версия ещё не вступила в силу.

problem-invalid-request-title = Некорректный запрос
problem-invalid-request-detail = Запрос не может быть принят (код причины: { $reason }). Ничего не изменено.

problem-record-not-found-title = Запись не найдена
problem-record-not-found-detail = Заявка, оферта, договор или запись о согласии с таким идентификатором не найдены.

problem-record-exists-title = Запись уже существует
problem-record-exists-detail = Запись с таким идентификатором уже существует или уже находится в этом состоянии. Ничего не изменено.

problem-application-closed-title = Заявка не открыта
problem-application-closed-detail = Заявка уже подана, срок её заполнения истёк или она удалена, поэтому её нельзя изменить.
## Employees (clauses 4.3, 5.4)

problem-no-undertaking-title = Нет обязательства о конфиденциальности
problem-no-undertaking-detail = У вас нет действующего подписанного обязательства о конфиденциальности, поэтому доступ к персональным данным закрыт (пункт 4.3). Обратитесь к ответственному за обработку персональных данных, чтобы он зарегистрировал обязательство.
problem-access-denied-title = Доступ запрещён политикой доступа
problem-access-denied-detail = Политика доступа не разрешает вашей роли видеть эти данные для этой цели (правило { $rule }). Доступ определяется ролью, целью, категорией данных и условиями (пункты 4.1, 5.3).
problem-invalid-credentials-title = Вход не выполнен
problem-invalid-credentials-detail = Неверный логин, пароль или код, либо вход временно заблокирован. Проверьте данные и повторите попытку позже.
problem-role-not-permitted-title = Недоступно для вашей роли
problem-role-not-permitted-detail = Ваша роль не позволяет выполнить это действие.
problem-employee-not-found-title = Сотрудник не найден
problem-employee-not-found-detail = Сотрудника с таким идентификатором нет.
problem-login-taken-title = Логин занят
problem-login-taken-detail = Этот логин уже принадлежит другому сотруднику. Выберите другой.
problem-invalid-input-title = Неверные данные
problem-invalid-input-detail = Поле { $field } не заполнено или заполнено неверно.
problem-bad-employee-id-title = Неверный идентификатор сотрудника
problem-bad-employee-id-detail = Идентификатор сотрудника в адресе запроса не является корректным идентификатором (UUID).
problem-csrf-failed-title = Запрос не подтверждён
problem-csrf-failed-detail = Запрос пришёл без CSRF-токена сессии. Обновите страницу и повторите попытку.
problem-incident-not-found-title = Инцидент не найден
problem-incident-not-found-detail = Инцидента с таким идентификатором нет.

problem-incident-wrong-status-title = Статус инцидента не допускает действия
problem-incident-wrong-status-detail = Инцидент в статусе «{ $status }»: принять инцидент в работу можно только пока он открыт, закрыть — только один раз.

problem-invalid-incident-status-title = Неизвестный статус инцидента
problem-invalid-incident-status-detail = Фильтр статуса должен быть одним из: open, acknowledged, closed.

problem-invalid-note-title = Недопустимая заметка
problem-invalid-note-detail = Заметка должна содержать от 1 до 2000 символов текста без управляющих символов (переводы строк допустимы).

problem-access-policy-rejected-title = Политика доступа отклонена
problem-access-policy-rejected-detail = Файл политики доступа не введён в действие; продолжает действовать прежняя политика. Причина: ({ $reason }).

problem-rate-limited-title = Слишком много запросов
problem-rate-limited-detail = Для этого номера или с этого адреса отправлено слишком много запросов (кодов входа или заявок). Повторите попытку позже.

problem-request-wrong-status-title = Статус обращения не позволяет это действие
problem-request-wrong-status-detail = Обращение в статусе «{ $status }»: обращение переходит из «получено» в «в работе», затем один раз в «отвечено», «исполнено» или «отказано».

## Problems raised by the web layer

problem-malformed-json-title = Некорректный JSON
problem-malformed-json-detail = Тело запроса не является корректным JSON или не соответствует ожидаемой структуре. Проверьте синтаксис и названия полей.

problem-body-too-large-title = Слишком большой запрос
problem-body-too-large-detail = Тело запроса превышает допустимый размер. Наибольший допустимый размер тела запроса: { $limit }.

problem-unsupported-media-type-title = Неподдерживаемый тип содержимого
problem-unsupported-media-type-detail = Тело запроса должно быть в формате JSON и передаваться с заголовком Content-Type: application/json.

problem-bad-subject-id-title = Некорректный идентификатор субъекта
problem-bad-subject-id-detail = Идентификатор субъекта в адресе запроса записан неверно. Используйте идентификатор, выданный системой при создании субъекта; не указывайте в адресе ИИН или другие персональные данные.

problem-missing-purpose-title = Не указана цель обработки
problem-missing-purpose-detail = Каждое обращение к персональным данным должно называть одну цель обработки из реестра целей (п. 1.1 Политики). Укажите код цели в запросе.

problem-not-found-title = Ресурс не найден
problem-not-found-detail = По этому адресу нет ресурса API. Проверьте путь запроса.

problem-method-not-allowed-title = Метод не поддерживается
problem-method-not-allowed-detail = Этот ресурс не поддерживает указанный HTTP-метод. Проверьте метод запроса по документации API.

problem-bad-query-title = Некорректные параметры запроса
problem-bad-query-detail = Параметры строки запроса заданы неверно или содержат неизвестные имена. Проверьте их по документации API.

problem-internal-title = Внутренняя ошибка
problem-internal-detail = При обработке запроса произошла непредвиденная ошибка. Повторите запрос позже; если ошибка повторится, обратитесь к администратору системы.

problem-notice-job-not-found-title = Задание рассылки не найдено
problem-notice-job-not-found-detail = Задания рассылки уведомлений об изменении политики с таким идентификатором нет. Список заданий: /api/v1/notices/jobs.

problem-bad-job-id-title = Неверный идентификатор задания
problem-bad-job-id-detail = Идентификатор задания рассылки в пути запроса не является UUID.

## Invalid fields: generic message and codes set by the service

field-invalid-value = Недопустимое значение.
field-unknown-category = Такой категории данных нет в реестре.
field-duplicate-category = Категория указана в запросе более одного раза.
field-category-not-allowed = Эта категория данных не нужна для указанной цели обработки (принцип минимизации, п. 3.2 Политики).

field-invalid-source = Недопустимый источник данных.
field-invalid-source-source-name-required = Для этого вида источника нужно указать его наименование (например, название кредитного бюро).
field-invalid-source-source-name-invalid = Наименование источника должно быть непустым, не длиннее 100 символов и без управляющих символов.

field-invalid-obtained-at = Недопустимое время получения данных.
field-invalid-obtained-at-in-the-future = Время получения данных не может быть в будущем.

field-invalid-note = Недопустимое примечание.
field-invalid-note-too-long-or-control = Примечание слишком длинное или содержит управляющие символы.

## Invalid fields: JSON shape

field-wrong-type = Значение имеет неверный тип или структуру.
field-wrong-type-expected-string = Ожидается строка.
field-wrong-type-expected-object = Ожидается объект JSON.
field-wrong-type-expected-string-or-object = Ожидается строка или объект JSON.
field-wrong-type-expected-number = Ожидается число.
field-wrong-type-unknown-field = Объект содержит неизвестное поле.
field-wrong-type-missing-field = В объекте не заполнено обязательное поле.

## IIN

field-invalid-iin = Недопустимый ИИН.
field-invalid-iin-iin-empty = ИИН не указан.
field-invalid-iin-iin-not-digits = ИИН должен состоять только из цифр.
field-invalid-iin-iin-bad-length = ИИН должен содержать ровно 12 цифр.
field-invalid-iin-iin-bad-century = Седьмая цифра ИИН (век рождения и пол) должна быть от 1 до 6.
field-invalid-iin-iin-bad-date = Первые шесть цифр ИИН не образуют существующую дату рождения.
field-invalid-iin-iin-bad-check-digit = Контрольная (12-я) цифра ИИН не совпадает. Проверьте, нет ли опечатки.
field-invalid-iin-iin-never-issued = Такой ИИН не может существовать: для этих цифр контрольная цифра не вычисляется. Проверьте, нет ли опечатки.

## Phone

field-invalid-phone = Недопустимый номер телефона.
field-invalid-phone-phone-empty = Номер телефона не указан.
field-invalid-phone-phone-bad-character = Номер телефона может содержать только цифры, пробелы, дефисы, скобки и знак «+» в начале.
field-invalid-phone-phone-bad-length = Номер телефона должен содержать 11 цифр: +7 или 8, затем 10 цифр.
field-invalid-phone-phone-bad-prefix = Номер телефона должен начинаться с +7, 7 или 8.
field-invalid-phone-phone-not-kazakhstan = Это не казахстанский номер телефона.
field-not-mobile = Указанный номер не является мобильным. Укажите номер мобильного телефона.

## Email

field-invalid-email = Недопустимый адрес электронной почты.
field-invalid-email-email-empty = Адрес электронной почты не указан.
field-invalid-email-email-too-long = Адрес электронной почты длиннее 254 символов.
field-invalid-email-email-bad-character = Адрес электронной почты содержит пробел или управляющий символ.
field-invalid-email-email-missing-at = В адресе электронной почты нет знака «@».
field-invalid-email-email-multiple-at = В адресе электронной почты больше одного знака «@».
field-invalid-email-email-bad-local-part = Часть адреса до «@» пустая, длиннее 64 символов или записана неверно.
field-invalid-email-email-bad-domain = Часть адреса после «@» не является корректным доменным именем.

## Bank account

field-invalid-iban = Недопустимый номер банковского счёта (IBAN).
field-invalid-iban-iban-empty = Номер счёта (IBAN) не указан.
field-invalid-iban-iban-bad-character = IBAN может содержать только латинские буквы, цифры и пробелы.
field-invalid-iban-iban-bad-length = Казахстанский IBAN состоит из 20 символов (без учёта пробелов).
field-invalid-iban-iban-not-kazakhstan = IBAN должен быть казахстанским, то есть начинаться с KZ.
field-invalid-iban-iban-bad-check-digits = Символы 3–4 IBAN (контрольные цифры) должны быть числом от 02 до 98.
field-invalid-iban-iban-bad-bank-code = Символы 5–7 IBAN (код банка) должны быть цифрами.
field-invalid-iban-iban-bad-checksum = Контрольная сумма IBAN не совпадает. Проверьте, нет ли опечатки.

field-invalid-bank-account = Недопустимые реквизиты банковского счёта.
field-invalid-bank-account-text-empty = Наименование банка не указано.
field-invalid-bank-account-text-too-long = Наименование банка слишком длинное.
field-invalid-bank-account-text-bad-character = Наименование банка содержит управляющие или невидимые символы.

## Full name

field-invalid-name = Недопустимые фамилия, имя или отчество.
field-invalid-name-full-name-bad-surname = Фамилия указана неверно: { -name-rules }.
field-invalid-name-full-name-bad-given = Имя указано неверно: { -name-rules }.
field-invalid-name-full-name-bad-patronymic = Отчество указано неверно: { -name-rules }.
field-invalid-name-full-name-missing-given = Укажите как минимум фамилию и имя.
field-invalid-name-name-empty = Часть ФИО не заполнена.
field-invalid-name-name-too-long = Часть ФИО длиннее 60 символов.
field-invalid-name-name-bad-character = ФИО может содержать только буквы кириллицы или латиницы, дефис, апостроф и пробелы.
field-invalid-name-name-bad-spacing = В ФИО не должно быть нескольких пробелов подряд.
field-invalid-name-name-bad-edge = Каждая часть ФИО должна начинаться и заканчиваться буквой.

## Address and free text

field-invalid-address = Недопустимый адрес.
field-invalid-address-address-too-short = Адрес короче 3 символов.
field-invalid-address-address-too-long = Адрес длиннее 300 символов.
field-invalid-address-address-bad-character = Адрес должен быть одной строкой без управляющих символов.

field-invalid-text = Недопустимый текст.
field-invalid-text-text-empty = Текст не заполнен.
field-invalid-text-text-too-long = Текст слишком длинный.
field-invalid-text-text-bad-character = Текст содержит управляющие или невидимые символы форматирования.

## Amounts, dates, days

field-invalid-money = Недопустимая сумма.
field-invalid-money-money-not-integer = Сумма указывается в тиынах (сотых долях тенге) целым числом, без дробной части.
field-invalid-money-money-negative = Сумма не может быть отрицательной.
field-invalid-money-money-out-of-range = Сумма слишком велика.

field-invalid-date = Недопустимая дата.
field-invalid-date-date-bad-format = Дата должна быть записана в формате ГГГГ-ММ-ДД.
field-invalid-date-date-no-such-date = Такой даты нет в календаре.
field-invalid-date-date-out-of-range = Дата должна быть в пределах с 1900-01-01 по 2100-12-31.

field-invalid-day = Недопустимый день месяца.
field-invalid-day-day-not-integer = День месяца должен быть целым числом.
field-invalid-day-day-out-of-range = День месяца должен быть от 1 до 31.

## Identity document

field-invalid-id-document = Недопустимые данные документа, удостоверяющего личность.
field-invalid-id-document-id-unknown-type = Неизвестный вид документа. Допустимые виды: удостоверение личности (id_card), паспорт (passport), вид на жительство (residence_permit), другой документ (other).
field-invalid-id-document-id-bad-number = Номер документа должен содержать от 1 до 20 латинских букв или цифр.
field-invalid-id-document-id-bad-issued-by = Наименование органа, выдавшего документ, не заполнено, слишком длинное или содержит управляющие символы.
field-invalid-id-document-id-bad-issued-on = Дата выдачи документа должна быть существующей датой в формате ГГГГ-ММ-ДД в пределах 1900–2100 годов.
field-invalid-id-document-id-bad-valid-until = Дата окончания срока действия документа должна быть существующей датой в формате ГГГГ-ММ-ДД в пределах 1900–2100 годов.
field-invalid-id-document-id-valid-until-before-issued-on = Срок действия документа не может заканчиваться раньше даты его выдачи.

## Choices

field-unknown-choice = Значение не входит в список допустимых вариантов этой категории.

## BIN (business identification number)

field-invalid-bin = Недопустимый БИН.
field-invalid-bin-bin-empty = БИН не указан.
field-invalid-bin-bin-not-digits = БИН должен состоять только из цифр.
field-invalid-bin-bin-bad-length = БИН должен содержать ровно 12 цифр.
field-invalid-bin-bin-bad-entity-type = Пятая цифра БИН (тип юридического лица) должна быть 4, 5 или 6.
field-invalid-bin-bin-bad-check-digit = Контрольная (12-я) цифра БИН не совпадает. Проверьте, нет ли опечатки.
field-invalid-bin-bin-never-issued = Такой БИН не может существовать: для этих цифр контрольная цифра не вычисляется. Проверьте, нет ли опечатки.

## Registry codes

field-unknown-language = Язык должен быть одним из: ru, kk, en.
field-bad-code = Код должен содержать от 2 до 48 символов: строчная латинская буква, затем строчные латинские буквы, цифры или знак подчёркивания.
