### derbes — API error messages (RFC 9457 problems and invalid fields), Kazakh.
### Ids: problem-<code>-title, problem-<code>-detail, field-<code>, field-<code>-<detail>;
### every "_" of a code becomes "-". Titles: short, no final full stop. Details and field
### messages: full sentences. Never put a personal value in a message: the only arguments
### are category codes or names ($categories, $category) and limits ($max: a number;
### $limit: a size with its unit, e.g. "1 MiB").
### Kept in step with locales/ru/errors.ftl and locales/en/errors.ftl (same ids).
### Terms: ИИН = ЖСН, БИН = БСН, МФО = МҚҰ, purpose = мақсат, category = санат,
### registry = тізілім (as in the registry file and the policy's Kazakh text).

-name-rules = тек кирилл немесе латын әріптері, дефис, апостроф және жалғыз бос орындар қолданылады, ұзындығы 60 таңбадан аспайды, басы мен соңы әріп болуы керек

## Problems raised by the service

problem-unknown-purpose-title = Өңдеу мақсаты белгісіз
problem-unknown-purpose-detail = Көрсетілген дербес деректерді өңдеу мақсаты мақсаттар тізілімінде жоқ. Тізілімдегі мақсат кодын көрсетіңіз.

problem-purpose-not-permitted-title = Өңдеу мақсатына рұқсат берілмеген
problem-purpose-not-permitted-detail = Сіздің API кілтіңізге осы мақсат үшін дербес деректерді өңдеуге рұқсат берілмеген. МҚҰ-да дербес деректерді өңдеуді ұйымдастыруға жауапты тұлғаға хабарласыңыз.

problem-category-not-allowed-title = Бұл мақсатқа деректер қажет емес
problem-category-not-allowed-detail = Көрсетілген өңдеу мақсаты үшін мына санаттардың деректері қажет емес: { $categories }. Деректерді барынша азайту қағидатына сәйкес (Саясаттың 3.2-тармағы) мақсатқа қажетті деректер ғана өңделеді. Бұл санаттарды сұраудан алып тастаңыз немесе лайықты мақсатты көрсетіңіз.

problem-invalid-values-title = Жарамсыз мәндер
problem-invalid-values-detail = Бір немесе бірнеше мән тексеруден өтпеді, сондықтан ештеңе сақталмады. Қателер тізімінде көрсетілген мәндерді түзетіп, сұрауды қайта жіберіңіз.

problem-not-searchable-title = Бұл санат бойынша іздеу мүмкін емес
problem-not-searchable-detail = Субъектіні тек тізілімде іздеу қарастырылған санаттар бойынша іздеуге болады (мысалы, ЖСН немесе ұялы телефон нөмірі бойынша). Көрсетілген санат бойынша іздеу қарастырылмаған.

problem-subject-not-found-title = Субъект табылмады
problem-subject-not-found-detail = Дербес деректер субъектісі табылмады. Субъектінің сәйкестендіргішін тексеріңіз.

problem-subject-exists-title = Субъект бұрыннан бар
problem-subject-exists-detail = Бірегей болуға тиіс мән (мысалы, ЖСН немесе ұялы телефон нөмірі) басқа субъектіде тіркелген. Жаңа субъект құрылмады: бар субъектіні тауып, оның деректерімен жұмыс істеңіз.

problem-unique-value-taken-title = Мән басқа субъектіге тиесілі
problem-unique-value-taken-detail = Бірегей болуға тиіс мән (мысалы, ЖСН немесе ұялы телефон нөмірі) басқа субъектіде тіркелген, сондықтан оны бұл субъектіге беруге болмайды. Ештеңе өзгертілмеді.

problem-no-audit-proof-title = Аудит журналы бойынша дәлел қолжетімсіз
problem-no-audit-proof-detail = Аудит журналының бұл жазбасын әзірге ешбір қол қойылған бақылау нүктесі қамтымайды немесе сұралған өлшемдегі бақылау нүктесі жоқ. Бақылау нүктелеріне тұрақты түрде қол қойылады; келесісінен кейін қайталап көріңіз.

problem-value-missing-title = Түзететін мән жоқ
problem-value-missing-detail = «{ $category }» санатында түзетуге болатын ағымдағы мән жоқ. Мән қосу үшін түзетуді емес, толықтыруды пайдаланыңыз.

problem-value-exists-title = Мән бұрыннан бар
problem-value-exists-detail = «{ $category }» санатында мән бұрыннан бар. Оны өзгерту үшін толықтыруды емес, түзетуді пайдаланыңыз.

problem-empty-request-title = Бос сұрау
problem-empty-request-detail = Сұрауда бірде-бір мән немесе элемент жоқ, сондықтан орындайтын ештеңе жоқ. Кемінде бір мәнді көрсетіңіз.

problem-too-many-items-title = Элементтер тым көп
problem-too-many-items-detail = Сұраудағы элементтер бір шақыруда рұқсат етілгеннен көп. Рұқсат етілген элементтердің ең көп саны: { $max }. Сұрауды бірнеше бөлікке бөліңіз.

problem-unauthenticated-title = Аутентификация қажет
problem-unauthenticated-detail = API кілті жіберілмеген, белгісіз немесе оның күші жойылған. Жарамды API кілтін жіберіңіз.

problem-integrity-failure-title = Деректердің тұтастығы бұзылған
problem-integrity-failure-detail = Сақталған деректер түпнұсқалықты тексеруден өтпеді: олар өзгертілген немесе басқа орынға ауыстырылған болуы мүмкін. Операция тоқтатылды. Жүйе әкімшісіне хабарласыңыз.

problem-key-mismatch-title = Шифрлау кілттері дерекқорға сәйкес келмейді
problem-key-mismatch-detail = Кілттер файлы дерекқорға сәйкес келмейді (басты кілттің нұсқасы қате немесе жоқ). Әкімші қажетті кілттер файлын орнатпайынша, деректер қолжетімсіз болады.

problem-crypto-failure-title = Шифрлау қатесі
problem-crypto-failure-detail = Криптографиялық операция орындалмады. Сұрауды кейінірек қайталаңыз; қате қайталанса, жүйе әкімшісіне хабарласыңыз.

problem-storage-failure-title = Деректер қоймасының қатесі
problem-storage-failure-detail = Дерекқор операцияны орындай алмады. Сұрауды кейінірек қайталаңыз; қате қайталанса, жүйе әкімшісіне хабарласыңыз.

problem-unavailable-title = Қызмет қолжетімсіз
problem-unavailable-detail = Қызмет уақытша қолжетімсіз (мысалы, техникалық қызмет көрсету үшін тоқтатылып жатыр). Сұрауды біраз уақыттан кейін қайталаңыз.

## Келісімдер тізілімі, саясат нұсқалары, өтінімдер және қарыздар (PRE-1, 6.1, 6.2, 7.1c, L-PURPOSE)

problem-consent-required-title = Осы мақсатқа келісім жоқ
problem-consent-required-detail = Бұл өңдеу мақсаты субъектінің келісіміне негізделген, ал субъект оны бермеген, кері қайтарып алған немесе келісімнің мерзімі өткен (№ 94-V Заң, 7 және 8-баптар). Өңдеу орындалмады.

problem-processing-blocked-title = Келісім кері қайтарылғаннан кейін өңдеу бұғатталды
problem-processing-blocked-detail = Субъект келісімін кері қайтарып алды (Саясаттың 7.1-тармағының «c» тармақшасы). Оның деректері заң талап ететін жағдайда ғана сақталады және осы мақсатта пайдаланылмайды.

problem-policy-consent-required-title = Саясатқа келісім қажет
problem-policy-consent-required-detail = Өтінімді дербес деректерді өңдеу саясатының қолданыстағы нұсқасына анық келісіммен ғана беруге болады (Саясаттың 6.1 және 6.2-тармақтары). Ештеңе сақталмады.

problem-policy-version-not-current-title = Саясаттың қолданыстағы нұсқасы емес
problem-policy-version-not-current-detail = Келісім қазір қолданылмайтын саясат нұсқасына сілтеме жасайды. Субъектіге қолданыстағы нұсқаны көрсетіп (GET /api/v1/policy/current), соған келісімді тіркеңіз.

problem-policy-not-found-title = Саясат нұсқасы табылмады
problem-policy-not-found-detail = Мұндай саясат нұсқасы жарияланбаған немесе әлі бірде-бір нұсқа күшіне енбеген.

problem-invalid-request-title = Сұрау дұрыс емес
problem-invalid-request-detail = Сұрауды қабылдау мүмкін емес (себеп коды: { $reason }). Ештеңе өзгертілмеді.

problem-record-not-found-title = Жазба табылмады
problem-record-not-found-detail = Осындай сәйкестендіргіші бар өтінім, оферта, шарт немесе келісім жазбасы табылмады.

problem-record-exists-title = Жазба бұрыннан бар
problem-record-exists-detail = Осындай сәйкестендіргіші бар жазба бұрыннан бар немесе осы күйде тұр. Ештеңе өзгертілмеді.

problem-application-closed-title = Өтінім ашық емес
problem-application-closed-detail = Өтінім бұрын берілген, толтыру мерзімі өткен немесе жойылған, сондықтан оны өзгерту мүмкін емес.
## Employees (clauses 4.3, 5.4)

problem-no-undertaking-title = Құпиялылық міндеттемесі жоқ
problem-no-undertaking-detail = Сізде қолданыстағы қол қойылған құпиялылық міндеттемесі жоқ, сондықтан дербес деректерге қол жеткізу жабық (4.3-тармақ). Міндеттемені тіркеу үшін дербес деректерді өңдеуге жауапты тұлғаға жүгініңіз.
problem-access-denied-title = Қол жеткізу саясаты бойынша тыйым салынған
problem-access-denied-detail = Қол жеткізу саясаты сіздің рөліңізге бұл мақсат үшін осы деректерді көруге рұқсат бермейді ({ $rule } ережесі). Қол жеткізу рөлге, мақсатқа, деректер санатына және шарттарға қарай шешіледі (4.1, 5.3-тармақтар).
problem-invalid-credentials-title = Кіру орындалмады
problem-invalid-credentials-detail = Логин, құпиясөз немесе код қате, не болмаса кіру уақытша бұғатталған. Деректерді тексеріп, кейінірек қайталап көріңіз.
problem-role-not-permitted-title = Сіздің рөліңізге рұқсат етілмеген
problem-role-not-permitted-detail = Сіздің рөліңіз бұл әрекетті орындауға рұқсат бермейді.
problem-employee-not-found-title = Қызметкер табылмады
problem-employee-not-found-detail = Мұндай идентификаторы бар қызметкер жоқ.
problem-login-taken-title = Логин бос емес
problem-login-taken-detail = Бұл логин басқа қызметкерге тиесілі. Басқасын таңдаңыз.
problem-invalid-input-title = Деректер қате
problem-invalid-input-detail = { $field } өрісі толтырылмаған немесе қате толтырылған.
problem-bad-employee-id-title = Қызметкер идентификаторы қате
problem-bad-employee-id-detail = Сұрау мекенжайындағы қызметкер идентификаторы дұрыс идентификатор (UUID) емес.
problem-csrf-failed-title = Сұрау расталмады
problem-csrf-failed-detail = Сұрау сессияның CSRF-токенінсіз келді. Бетті жаңартып, қайталап көріңіз.
problem-incident-not-found-title = Инцидент табылмады
problem-incident-not-found-detail = Мұндай идентификаторы бар инцидент жоқ.

problem-incident-wrong-status-title = Инцидент мәртебесі бұл әрекетке жол бермейді
problem-incident-wrong-status-detail = Инцидент «{ $status }» мәртебесінде: инцидентті ол ашық тұрғанда ғана жұмысқа алуға, ал жабуды бір рет қана жасауға болады.

problem-invalid-incident-status-title = Инциденттің белгісіз мәртебесі
problem-invalid-incident-status-detail = Мәртебе сүзгісі мыналардың бірі болуы керек: open, acknowledged, closed.

problem-invalid-note-title = Жарамсыз жазба
problem-invalid-note-detail = Жазба басқару таңбаларынсыз 1-ден 2000-ға дейін таңбадан тұруы керек (жол ауыстыруға болады).

problem-access-policy-rejected-title = Қол жеткізу саясаты қабылданбады
problem-access-policy-rejected-detail = Қол жеткізу саясатының файлы күшіне енгізілмеді; бұрынғы саясат қолданыста қалады. Себебі: ({ $reason }).

problem-rate-limited-title = Сұраныстар тым көп
problem-rate-limited-detail = Осы нөмірге немесе осы мекенжайдан тым көп сұрау жіберілді (кіру кодтары немесе өтінімдер). Кейінірек қайталап көріңіз.

problem-request-wrong-status-title = Өтініштің мәртебесі бұл әрекетке жол бермейді
problem-request-wrong-status-detail = Өтініш «{ $status }» мәртебесінде: өтініш «алынды» мәртебесінен «жұмыста» мәртебесіне, содан кейін бір рет «жауап берілді», «орындалды» немесе «бас тартылды» мәртебесіне өтеді.

## Problems raised by the web layer

problem-malformed-json-title = JSON қате жазылған
problem-malformed-json-detail = Сұрау денесі дұрыс JSON емес немесе күтілетін құрылымға сәйкес келмейді. Синтаксисті және өрістердің атауларын тексеріңіз.

problem-body-too-large-title = Сұрау тым үлкен
problem-body-too-large-detail = Сұрау денесі рұқсат етілген өлшемнен асып кетті. Сұрау денесінің рұқсат етілген ең үлкен өлшемі: { $limit }.

problem-unsupported-media-type-title = Мазмұн түріне қолдау көрсетілмейді
problem-unsupported-media-type-detail = Сұрау денесі JSON форматында болуы және Content-Type: application/json тақырыпшасымен жіберілуі керек.

problem-bad-subject-id-title = Субъектінің сәйкестендіргіші қате
problem-bad-subject-id-detail = Сұрау мекенжайындағы субъект сәйкестендіргіші қате жазылған. Субъект құрылған кезде жүйе берген сәйкестендіргішті пайдаланыңыз; мекенжайда ЖСН-ді немесе басқа дербес деректерді көрсетпеңіз.

problem-missing-purpose-title = Өңдеу мақсаты көрсетілмеген
problem-missing-purpose-detail = Дербес деректерге әрбір қол жеткізу кезінде мақсаттар тізілімінен бір өңдеу мақсаты көрсетілуі тиіс (Саясаттың 1.1-тармағы). Сұрауда мақсат кодын көрсетіңіз.

problem-not-found-title = Ресурс табылмады
problem-not-found-detail = Бұл мекенжайда API ресурсы жоқ. Сұраудың жолын тексеріңіз.

problem-method-not-allowed-title = Әдіске қолдау көрсетілмейді
problem-method-not-allowed-detail = Бұл ресурс көрсетілген HTTP әдісін қолдамайды. Сұрау әдісін API құжаттамасы бойынша тексеріңіз.

problem-bad-query-title = Сұрау параметрлері қате
problem-bad-query-detail = Сұраудың URL параметрлері қате берілген немесе белгісіз атаулары бар. Оларды API құжаттамасы бойынша тексеріңіз.

problem-internal-title = Ішкі қате
problem-internal-detail = Сұрауды өңдеу кезінде күтпеген қате орын алды. Сұрауды кейінірек қайталаңыз; қате қайталанса, жүйе әкімшісіне хабарласыңыз.

problem-notice-job-not-found-title = Хабарлама жіберу тапсырмасы табылмады
problem-notice-job-not-found-detail = Мұндай сәйкестендіргіші бар саясаттың өзгеруі туралы хабарламалар жіберу тапсырмасы жоқ. Тапсырмалар тізімі: /api/v1/notices/jobs.

problem-bad-job-id-title = Тапсырманың сәйкестендіргіші қате
problem-bad-job-id-detail = Сұрау жолындағы хабарлама жіберу тапсырмасының сәйкестендіргіші UUID емес.

## Invalid fields: generic message and codes set by the service

field-invalid-value = Жарамсыз мән.
field-unknown-category = Тізілімде мұндай деректер санаты жоқ.
field-duplicate-category = Санат сұрауда бір реттен артық көрсетілген.
field-category-not-allowed = Бұл деректер санаты көрсетілген өңдеу мақсаты үшін қажет емес (деректерді барынша азайту қағидаты, Саясаттың 3.2-тармағы).

field-invalid-source = Дереккөз жарамсыз.
field-invalid-source-source-name-required = Дереккөздің бұл түрі үшін оның атауын көрсету қажет (мысалы, кредиттік бюроның атауы).
field-invalid-source-source-name-invalid = Дереккөздің атауы бос болмауы, 100 таңбадан аспауы және басқару таңбаларынсыз болуы керек.

field-invalid-obtained-at = Деректерді алу уақыты жарамсыз.
field-invalid-obtained-at-in-the-future = Деректерді алу уақыты болашақта болуы мүмкін емес.

field-invalid-note = Ескертпе жарамсыз.
field-invalid-note-too-long-or-control = Ескертпе тым ұзын немесе онда басқару таңбалары бар.

## Invalid fields: JSON shape

field-wrong-type = Мәннің түрі немесе құрылымы қате.
field-wrong-type-expected-string = Жол (string) күтіледі.
field-wrong-type-expected-object = JSON объектісі күтіледі.
field-wrong-type-expected-string-or-object = Жол (string) немесе JSON объектісі күтіледі.
field-wrong-type-expected-number = Сан күтіледі.
field-wrong-type-unknown-field = Объектіде белгісіз өріс бар.
field-wrong-type-missing-field = Объектіде міндетті өріс толтырылмаған.

## IIN

field-invalid-iin = Жарамсыз ЖСН.
field-invalid-iin-iin-empty = ЖСН көрсетілмеген.
field-invalid-iin-iin-not-digits = ЖСН тек цифрлардан тұруы керек.
field-invalid-iin-iin-bad-length = ЖСН дәл 12 цифрдан тұруы керек.
field-invalid-iin-iin-bad-century = ЖСН-нің жетінші цифры (туған ғасыры мен жынысы) 1-ден 6-ға дейін болуы керек.
field-invalid-iin-iin-bad-date = ЖСН-нің алғашқы алты цифры нақты туған күнді құрамайды.
field-invalid-iin-iin-bad-check-digit = ЖСН-нің бақылау (12-ші) цифры сәйкес келмейді. Қате терілмегенін тексеріңіз.
field-invalid-iin-iin-never-issued = Мұндай ЖСН болуы мүмкін емес: бұл цифрлар үшін бақылау цифры есептелмейді. Қате терілмегенін тексеріңіз.

## Phone

field-invalid-phone = Жарамсыз телефон нөмірі.
field-invalid-phone-phone-empty = Телефон нөмірі көрсетілмеген.
field-invalid-phone-phone-bad-character = Телефон нөмірінде тек цифрлар, бос орындар, дефистер, жақшалар және басында «+» белгісі болуы мүмкін.
field-invalid-phone-phone-bad-length = Телефон нөмірі 11 цифрдан тұруы керек: +7 немесе 8, одан кейін 10 цифр.
field-invalid-phone-phone-bad-prefix = Телефон нөмірі +7, 7 немесе 8 цифрынан басталуы керек.
field-invalid-phone-phone-not-kazakhstan = Бұл қазақстандық телефон нөмірі емес.
field-not-mobile = Көрсетілген нөмір ұялы телефон нөмірі емес. Ұялы телефон нөмірін көрсетіңіз.

## Email

field-invalid-email = Жарамсыз электрондық пошта мекенжайы.
field-invalid-email-email-empty = Электрондық пошта мекенжайы көрсетілмеген.
field-invalid-email-email-too-long = Электрондық пошта мекенжайы 254 таңбадан ұзын.
field-invalid-email-email-bad-character = Электрондық пошта мекенжайында бос орын немесе басқару таңбасы бар.
field-invalid-email-email-missing-at = Электрондық пошта мекенжайында «@» белгісі жоқ.
field-invalid-email-email-multiple-at = Электрондық пошта мекенжайында «@» белгісі бірнеше рет кездеседі.
field-invalid-email-email-bad-local-part = Мекенжайдың «@» белгісіне дейінгі бөлігі бос, 64 таңбадан ұзын немесе қате жазылған.
field-invalid-email-email-bad-domain = Мекенжайдың «@» белгісінен кейінгі бөлігі дұрыс домендік атау емес.

## Bank account

field-invalid-iban = Жарамсыз банк шотының нөмірі (IBAN).
field-invalid-iban-iban-empty = Шот нөмірі (IBAN) көрсетілмеген.
field-invalid-iban-iban-bad-character = IBAN-да тек латын әріптері, цифрлар және бос орындар болуы мүмкін.
field-invalid-iban-iban-bad-length = Қазақстандық IBAN 20 таңбадан тұрады (бос орындарды есептемегенде).
field-invalid-iban-iban-not-kazakhstan = IBAN қазақстандық болуы, яғни KZ әріптерінен басталуы керек.
field-invalid-iban-iban-bad-check-digits = IBAN-ның 3–4-таңбалары (бақылау цифрлары) 02-ден 98-ге дейінгі сан болуы керек.
field-invalid-iban-iban-bad-bank-code = IBAN-ның 5–7-таңбалары (банк коды) цифрлар болуы керек.
field-invalid-iban-iban-bad-checksum = IBAN-ның бақылау сомасы сәйкес келмейді. Қате терілмегенін тексеріңіз.

field-invalid-bank-account = Банк шотының деректемелері жарамсыз.
field-invalid-bank-account-text-empty = Банктің атауы көрсетілмеген.
field-invalid-bank-account-text-too-long = Банктің атауы тым ұзын.
field-invalid-bank-account-text-bad-character = Банктің атауында басқару немесе көрінбейтін таңбалар бар.

## Full name

field-invalid-name = Тегі, аты немесе әкесінің аты жарамсыз.
field-invalid-name-full-name-bad-surname = Тегі қате көрсетілген: { -name-rules }.
field-invalid-name-full-name-bad-given = Аты қате көрсетілген: { -name-rules }.
field-invalid-name-full-name-bad-patronymic = Әкесінің аты қате көрсетілген: { -name-rules }.
field-invalid-name-full-name-missing-given = Кемінде тегі мен атын көрсетіңіз.
field-invalid-name-name-empty = Аты-жөнінің бір бөлігі толтырылмаған.
field-invalid-name-name-too-long = Аты-жөнінің бір бөлігі 60 таңбадан ұзын.
field-invalid-name-name-bad-character = Аты-жөнінде тек кирилл немесе латын әріптері, дефис, апостроф және бос орындар болуы мүмкін.
field-invalid-name-name-bad-spacing = Аты-жөнінде қатарынан бірнеше бос орын болмауы керек.
field-invalid-name-name-bad-edge = Аты-жөнінің әр бөлігі әріптен басталып, әріппен аяқталуы керек.

## Address and free text

field-invalid-address = Жарамсыз мекенжай.
field-invalid-address-address-too-short = Мекенжай 3 таңбадан қысқа.
field-invalid-address-address-too-long = Мекенжай 300 таңбадан ұзын.
field-invalid-address-address-bad-character = Мекенжай басқару таңбаларынсыз бір жолмен жазылуы керек.

field-invalid-text = Жарамсыз мәтін.
field-invalid-text-text-empty = Мәтін толтырылмаған.
field-invalid-text-text-too-long = Мәтін тым ұзын.
field-invalid-text-text-bad-character = Мәтінде басқару немесе көрінбейтін пішімдеу таңбалары бар.

## Amounts, dates, days

field-invalid-money = Жарамсыз сома.
field-invalid-money-money-not-integer = Сома тиынмен (теңгенің жүзден бір бөлігімен) бөлшек бөлігінсіз бүтін санмен көрсетіледі.
field-invalid-money-money-negative = Сома теріс болмауы керек.
field-invalid-money-money-out-of-range = Сома тым үлкен.

field-invalid-date = Жарамсыз күн.
field-invalid-date-date-bad-format = Күн ЖЖЖЖ-АА-КК форматында жазылуы керек.
field-invalid-date-date-no-such-date = Күнтізбеде мұндай күн жоқ.
field-invalid-date-date-out-of-range = Күн 1900-01-01 мен 2100-12-31 аралығында болуы керек.

field-invalid-day = Айдың күні жарамсыз.
field-invalid-day-day-not-integer = Айдың күні бүтін сан болуы керек.
field-invalid-day-day-out-of-range = Айдың күні 1-ден 31-ге дейін болуы керек.

## Identity document

field-invalid-id-document = Жеке басты куәландыратын құжаттың деректері жарамсыз.
field-invalid-id-document-id-unknown-type = Құжаттың түрі белгісіз. Рұқсат етілген түрлері: жеке куәлік (id_card), паспорт (passport), тұруға ықтиярхат (residence_permit), басқа құжат (other).
field-invalid-id-document-id-bad-number = Құжат нөмірі 1-ден 20-ға дейін латын әріптері мен цифрлардан тұруы керек.
field-invalid-id-document-id-bad-issued-by = Құжатты берген органның атауы толтырылмаған, тым ұзын немесе онда басқару таңбалары бар.
field-invalid-id-document-id-bad-issued-on = Құжаттың берілген күні ЖЖЖЖ-АА-КК форматындағы, 1900–2100 жылдар аралығындағы нақты күн болуы керек.
field-invalid-id-document-id-bad-valid-until = Құжаттың жарамдылық мерзімі аяқталатын күн ЖЖЖЖ-АА-КК форматындағы, 1900–2100 жылдар аралығындағы нақты күн болуы керек.
field-invalid-id-document-id-valid-until-before-issued-on = Құжаттың жарамдылық мерзімі оның берілген күнінен бұрын аяқтала алмайды.

## Choices

field-unknown-choice = Мән осы санат үшін рұқсат етілген нұсқалардың қатарына кірмейді.

## BIN (business identification number)

field-invalid-bin = Жарамсыз БСН.
field-invalid-bin-bin-empty = БСН көрсетілмеген.
field-invalid-bin-bin-not-digits = БСН тек цифрлардан тұруы керек.
field-invalid-bin-bin-bad-length = БСН дәл 12 цифрдан тұруы керек.
field-invalid-bin-bin-bad-entity-type = БСН-нің бесінші цифры (заңды тұлғаның түрі) 4, 5 немесе 6 болуы керек.
field-invalid-bin-bin-bad-check-digit = БСН-нің бақылау (12-ші) цифры сәйкес келмейді. Қате терілмегенін тексеріңіз.
field-invalid-bin-bin-never-issued = Мұндай БСН болуы мүмкін емес: бұл цифрлар үшін бақылау цифры есептелмейді. Қате терілмегенін тексеріңіз.

## Registry codes

field-unknown-language = Тіл ru, kk немесе en болуы керек.
field-bad-code = Код 2-ден 48-ге дейін таңбадан тұруы керек: алдымен кіші латын әрпі, одан кейін кіші латын әріптері, цифрлар немесе астын сызу белгісі.
