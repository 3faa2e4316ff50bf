### derbes — API error messages (RFC 9457 problems and invalid fields), English.
### Ids: problem-<code>-title, problem-<code>-detail, field-<code>, field-<code>-<detail>;
### every "_" of a code becomes "-". Titles: short, no final full stop. Details and field
### messages: full sentences. Never put a personal value in a message: the only arguments
### are category codes or names ($categories, $category) and limits ($max: a number;
### $limit: a size with its unit, e.g. "1 MiB").
### Kept in step with locales/ru/errors.ftl and locales/kk/errors.ftl (same ids).

-name-rules = use Cyrillic or Latin letters, hyphens, apostrophes and single spaces, at most 60 characters, beginning and ending with a letter

## Problems raised by the service

problem-unknown-purpose-title = Unknown processing purpose
problem-unknown-purpose-detail = The processing purpose given is not in the purpose registry. Please name a purpose code from the registry.

problem-purpose-not-permitted-title = Processing purpose not permitted
problem-purpose-not-permitted-detail = Your API key is not permitted to process personal data for this purpose. Please contact the person responsible for organising personal data processing at the MFO.

problem-category-not-allowed-title = Data not needed for this purpose
problem-category-not-allowed-detail = The processing purpose given does not need data of these categories: { $categories }. Under the minimisation principle (Policy clause 3.2) only the data a purpose needs are processed. Please remove these categories from the request or name a suitable purpose.

problem-invalid-values-title = Invalid values
problem-invalid-values-detail = One or more values failed validation, so nothing was saved. Please correct the values listed in the errors and send the request again.

problem-not-searchable-title = This category cannot be searched
problem-not-searchable-detail = A subject can be looked up only by categories that the registry marks as searchable (for example the IIN or the mobile phone number). The category given is not searchable.

problem-subject-not-found-title = Subject not found
problem-subject-not-found-detail = The personal data subject was not found. Please check the subject identifier.

problem-subject-exists-title = Subject already exists
problem-subject-exists-detail = A value that must be unique (for example the IIN or the mobile phone number) is already held by another subject. No new subject was created: please find the existing subject and work with its data.

problem-unique-value-taken-title = Value held by another subject
problem-unique-value-taken-detail = A value that must be unique (for example the IIN or the mobile phone number) is already held by another subject, so it cannot be given to this one. Nothing was changed.

problem-no-audit-proof-title = No audit proof available
problem-no-audit-proof-detail = No signed checkpoint covers this audit entry yet, or no checkpoint has the size asked for. Checkpoints are signed at a regular interval; try again after the next one.

problem-value-missing-title = No value to correct
problem-value-missing-detail = The category “{ $category }” has no current value to correct. To add a value, use a supplement, not a correction.

problem-value-exists-title = Value already present
problem-value-exists-detail = The category “{ $category }” already has a value. To change it, use a correction, not a supplement.

problem-empty-request-title = Empty request
problem-empty-request-detail = The request holds no value or item, so there is nothing to do. Please give at least one value.

problem-too-many-items-title = Too many items
problem-too-many-items-detail = The request holds more items than one call allows. The largest number of items allowed: { $max }. Please split the request into several parts.

problem-unauthenticated-title = Authentication required
problem-unauthenticated-detail = The API key is missing, unknown or revoked. Please send a valid API key.

problem-integrity-failure-title = Data integrity failure
problem-integrity-failure-detail = Stored data failed authentication: they may have been altered or moved. The operation was stopped. Please contact the system administrator.

problem-key-mismatch-title = Encryption keys do not match the database
problem-key-mismatch-detail = The key file does not match the database (wrong or missing master key version). The data stay unavailable until an administrator installs the right key file.

problem-crypto-failure-title = Encryption error
problem-crypto-failure-detail = A cryptographic operation failed. Please try again later; if the error persists, contact the system administrator.

problem-storage-failure-title = Data storage error
problem-storage-failure-detail = The database could not complete the operation. Please try again later; if the error persists, contact the system administrator.

problem-unavailable-title = Service unavailable
problem-unavailable-detail = The service is temporarily unavailable (for example, it is shutting down for maintenance). Please try again in a while.

## Consent ledger, policy versions, applications and loans (PRE-1, 6.1, 6.2, 7.1c, L-PURPOSE)

problem-consent-required-title = No consent for this purpose
problem-consent-required-detail = This processing purpose rests on the subject's consent, and the subject has not given it, has withdrawn it, or its term has ended (Law No. 94-V, Art. 7 and 8). Nothing was processed.

problem-processing-blocked-title = Processing blocked after withdrawal of consent
problem-processing-blocked-detail = The subject has withdrawn consent (Policy clause 7.1(c)). Their data are kept only where the law requires it and may not be used for this purpose.

problem-policy-consent-required-title = Consent to the policy is required
problem-policy-consent-required-detail = An application can be submitted only with explicit consent to the current version of the personal data policy (Policy clauses 6.1 and 6.2). Nothing was saved.

problem-policy-version-not-current-title = Not the current policy version
problem-policy-version-not-current-detail = The consent refers to a policy version that is not in force now. Please show the subject the current version (GET /api/v1/policy/current) and record consent to it.

problem-policy-not-found-title = Policy version not found
problem-policy-not-found-detail = No such policy version has been published, or no version is in force yet.

problem-invalid-request-title = Invalid request
problem-invalid-request-detail = The request cannot be accepted (reason code: { $reason }). Nothing was changed.

problem-record-not-found-title = Record not found
problem-record-not-found-detail = No application, offer, contract or consent record with this reference was found.

problem-record-exists-title = Record already exists
problem-record-exists-detail = A record with this reference already exists or is already in this state. Nothing was changed.

problem-application-closed-title = Application is not open
problem-application-closed-detail = The application has already been submitted, has expired or has been removed, so it cannot be changed.
## Employees (clauses 4.3, 5.4)

problem-no-undertaking-title = No confidentiality undertaking
problem-no-undertaking-detail = You have no signed confidentiality undertaking in force, so you have no access to personal data (clause 4.3). Ask the data-protection officer to record your undertaking.
problem-access-denied-title = Access denied by the access policy
problem-access-denied-detail = The access policy does not let your role see these data for this purpose (rule { $rule }). Each access is decided by role, purpose, data category and conditions (clauses 4.1, 5.3).
problem-invalid-credentials-title = Login failed
problem-invalid-credentials-detail = The login, password or code is wrong, or login is temporarily blocked. Check them and try again later.
problem-role-not-permitted-title = Not allowed for your role
problem-role-not-permitted-detail = Your role does not allow this action.
problem-employee-not-found-title = Employee not found
problem-employee-not-found-detail = No employee with this id exists.
problem-login-taken-title = Login taken
problem-login-taken-detail = Another employee already has this login. Choose another one.
problem-invalid-input-title = Invalid input
problem-invalid-input-detail = The field { $field } is missing or invalid.
problem-bad-employee-id-title = Bad employee id
problem-bad-employee-id-detail = The employee id in the address is not a valid identifier (UUID).
problem-csrf-failed-title = Request not confirmed
problem-csrf-failed-detail = The request came without the session's CSRF token. Reload the page and try again.
problem-incident-not-found-title = Incident not found
problem-incident-not-found-detail = There is no incident with this id.

problem-incident-wrong-status-title = Incident status does not allow this
problem-incident-wrong-status-detail = The incident is “{ $status }”: an incident can be acknowledged only while open, and closed only once.

problem-invalid-incident-status-title = Unknown incident status
problem-invalid-incident-status-detail = The status filter must be one of open, acknowledged, closed.

problem-invalid-note-title = Invalid note
problem-invalid-note-detail = A note must be 1 to 2000 characters of text without control characters (line breaks are allowed).

problem-access-policy-rejected-title = Access policy rejected
problem-access-policy-rejected-detail = The access policy file was not put in force; the previous policy stays in force. Reason: ({ $reason }).

problem-rate-limited-title = Too many requests
problem-rate-limited-detail = Too many requests for this phone or from this address (login codes or applications). Try again later.

problem-request-wrong-status-title = Request status does not allow this
problem-request-wrong-status-detail = The request is “{ $status }”: a request moves from received to in progress, then to answered, done or refused, once.

## Problems raised by the web layer

problem-malformed-json-title = Malformed JSON
problem-malformed-json-detail = The request body is not valid JSON or does not have the expected structure. Please check the syntax and the field names.

problem-body-too-large-title = Request too large
problem-body-too-large-detail = The request body is larger than allowed. The largest request body allowed: { $limit }.

problem-unsupported-media-type-title = Unsupported media type
problem-unsupported-media-type-detail = The request body must be JSON, sent with the header Content-Type: application/json.

problem-bad-subject-id-title = Invalid subject identifier
problem-bad-subject-id-detail = The subject identifier in the request address is malformed. Please use the identifier the system issued when the subject was created; never put an IIN or other personal data in an address.

problem-missing-purpose-title = Processing purpose missing
problem-missing-purpose-detail = Every access to personal data must name one processing purpose from the purpose registry (Policy clause 1.1). Please give the purpose code in the request.

problem-not-found-title = Resource not found
problem-not-found-detail = There is no API resource at this address. Please check the request path.

problem-method-not-allowed-title = Method not allowed
problem-method-not-allowed-detail = This resource does not support the HTTP method used. Please check the method in the API documentation.

problem-bad-query-title = Invalid query parameters
problem-bad-query-detail = The query string parameters are invalid or include unknown names. Please check them against the API documentation.

problem-internal-title = Internal error
problem-internal-detail = An unexpected error occurred while processing the request. Please try again later; if the error persists, contact the system administrator.

problem-notice-job-not-found-title = Notice job not found
problem-notice-job-not-found-detail = There is no policy-change notice job with this identifier. The list of jobs is at /api/v1/notices/jobs.

problem-bad-job-id-title = Invalid job identifier
problem-bad-job-id-detail = The notice job identifier in the path is not a UUID.

## Invalid fields: generic message and codes set by the service

field-invalid-value = Invalid value.
field-unknown-category = There is no such data category in the registry.
field-duplicate-category = The category appears more than once in the request.
field-category-not-allowed = The processing purpose given does not need this data category (minimisation principle, Policy clause 3.2).

field-invalid-source = Invalid data source.
field-invalid-source-source-name-required = This kind of source needs a name (for example, the name of the credit bureau).
field-invalid-source-source-name-invalid = The source name must be non-empty, at most 100 characters long and free of control characters.

field-invalid-obtained-at = Invalid time the data were obtained.
field-invalid-obtained-at-in-the-future = The time the data were obtained cannot be in the future.

field-invalid-note = Invalid note.
field-invalid-note-too-long-or-control = The note is too long or contains control characters.

## Invalid fields: JSON shape

field-wrong-type = The value has the wrong type or structure.
field-wrong-type-expected-string = A string is expected.
field-wrong-type-expected-object = A JSON object is expected.
field-wrong-type-expected-string-or-object = A string or a JSON object is expected.
field-wrong-type-expected-number = A number is expected.
field-wrong-type-unknown-field = The object contains an unknown field.
field-wrong-type-missing-field = A required field of the object is missing.

## IIN

field-invalid-iin = Invalid IIN.
field-invalid-iin-iin-empty = The IIN is empty.
field-invalid-iin-iin-not-digits = The IIN must contain digits only.
field-invalid-iin-iin-bad-length = The IIN must be exactly 12 digits.
field-invalid-iin-iin-bad-century = The 7th digit of the IIN (century of birth and sex) must be from 1 to 6.
field-invalid-iin-iin-bad-date = The first six digits of the IIN are not a real date of birth.
field-invalid-iin-iin-bad-check-digit = The check digit (12th digit) of the IIN does not match. Please check for a typo.
field-invalid-iin-iin-never-issued = No such IIN can exist: these digits have no valid check digit. Please check for a typo.

## Phone

field-invalid-phone = Invalid phone number.
field-invalid-phone-phone-empty = The phone number is empty.
field-invalid-phone-phone-bad-character = A phone number may contain only digits, spaces, hyphens, parentheses and a leading “+”.
field-invalid-phone-phone-bad-length = A phone number must have 11 digits: +7 or 8, then 10 digits.
field-invalid-phone-phone-bad-prefix = A phone number must start with +7, 7 or 8.
field-invalid-phone-phone-not-kazakhstan = This is not a Kazakhstan phone number.
field-not-mobile = This number is not a mobile number. Please give a mobile phone number.

## Email

field-invalid-email = Invalid email address.
field-invalid-email-email-empty = The email address is empty.
field-invalid-email-email-too-long = The email address is longer than 254 characters.
field-invalid-email-email-bad-character = The email address contains a space or a control character.
field-invalid-email-email-missing-at = The email address has no “@”.
field-invalid-email-email-multiple-at = The email address has more than one “@”.
field-invalid-email-email-bad-local-part = The part before “@” is empty, longer than 64 characters or malformed.
field-invalid-email-email-bad-domain = The part after “@” is not a valid domain name.

## Bank account

field-invalid-iban = Invalid bank account number (IBAN).
field-invalid-iban-iban-empty = The account number (IBAN) is empty.
field-invalid-iban-iban-bad-character = An IBAN may contain only Latin letters, digits and spaces.
field-invalid-iban-iban-bad-length = A Kazakhstan IBAN has 20 characters (spaces not counted).
field-invalid-iban-iban-not-kazakhstan = The IBAN must be a Kazakhstan IBAN, starting with KZ.
field-invalid-iban-iban-bad-check-digits = Characters 3–4 of the IBAN (check digits) must be a number from 02 to 98.
field-invalid-iban-iban-bad-bank-code = Characters 5–7 of the IBAN (bank code) must be digits.
field-invalid-iban-iban-bad-checksum = The IBAN checksum does not match. Please check for a typo.

field-invalid-bank-account = Invalid bank account details.
field-invalid-bank-account-text-empty = The bank name is empty.
field-invalid-bank-account-text-too-long = The bank name is too long.
field-invalid-bank-account-text-bad-character = The bank name contains control or invisible characters.

## Full name

field-invalid-name = Invalid surname, given name or patronymic.
field-invalid-name-full-name-bad-surname = The surname is invalid: { -name-rules }.
field-invalid-name-full-name-bad-given = The given name is invalid: { -name-rules }.
field-invalid-name-full-name-bad-patronymic = The patronymic is invalid: { -name-rules }.
field-invalid-name-full-name-missing-given = Please give at least a surname and a given name.
field-invalid-name-name-empty = A part of the full name is empty.
field-invalid-name-name-too-long = A part of the full name is longer than 60 characters.
field-invalid-name-name-bad-character = A full name may contain only Cyrillic or Latin letters, hyphens, apostrophes and spaces.
field-invalid-name-name-bad-spacing = A full name must not contain several spaces in a row.
field-invalid-name-name-bad-edge = Each part of the full name must begin and end with a letter.

## Address and free text

field-invalid-address = Invalid address.
field-invalid-address-address-too-short = The address is shorter than 3 characters.
field-invalid-address-address-too-long = The address is longer than 300 characters.
field-invalid-address-address-bad-character = The address must be a single line without control characters.

field-invalid-text = Invalid text.
field-invalid-text-text-empty = The text is empty.
field-invalid-text-text-too-long = The text is too long.
field-invalid-text-text-bad-character = The text contains control or invisible formatting characters.

## Amounts, dates, days

field-invalid-money = Invalid amount.
field-invalid-money-money-not-integer = Amounts are given in tiyn (hundredths of a tenge) as a whole number, without a fractional part.
field-invalid-money-money-negative = The amount cannot be negative.
field-invalid-money-money-out-of-range = The amount is too large.

field-invalid-date = Invalid date.
field-invalid-date-date-bad-format = A date must be written as YYYY-MM-DD.
field-invalid-date-date-no-such-date = There is no such date in the calendar.
field-invalid-date-date-out-of-range = The date must be between 1900-01-01 and 2100-12-31.

field-invalid-day = Invalid day of the month.
field-invalid-day-day-not-integer = The day of the month must be a whole number.
field-invalid-day-day-out-of-range = The day of the month must be from 1 to 31.

## Identity document

field-invalid-id-document = Invalid identity document data.
field-invalid-id-document-id-unknown-type = Unknown document type. Allowed types: identity card (id_card), passport (passport), residence permit (residence_permit), other document (other).
field-invalid-id-document-id-bad-number = The document number must be 1 to 20 Latin letters or digits.
field-invalid-id-document-id-bad-issued-by = The issuing authority is empty, too long or contains control characters.
field-invalid-id-document-id-bad-issued-on = The issue date must be a real date written as YYYY-MM-DD, between 1900 and 2100.
field-invalid-id-document-id-bad-valid-until = The expiry date must be a real date written as YYYY-MM-DD, between 1900 and 2100.
field-invalid-id-document-id-valid-until-before-issued-on = The document cannot expire before the date it was issued.

## Choices

field-unknown-choice = The value is not one of the choices allowed for this category.

## BIN (business identification number)

field-invalid-bin = Invalid BIN.
field-invalid-bin-bin-empty = The BIN is empty.
field-invalid-bin-bin-not-digits = The BIN must contain digits only.
field-invalid-bin-bin-bad-length = The BIN must be exactly 12 digits.
field-invalid-bin-bin-bad-entity-type = The 5th digit of the BIN (type of legal entity) must be 4, 5 or 6.
field-invalid-bin-bin-bad-check-digit = The check digit (12th digit) of the BIN does not match. Please check for a typo.
field-invalid-bin-bin-never-issued = No such BIN can exist: these digits have no valid check digit. Please check for a typo.

## Registry codes

field-unknown-language = The language must be one of ru, kk, en.
field-bad-code = A code must be 2 to 48 characters: a lowercase Latin letter, then lowercase Latin letters, digits or underscores.
