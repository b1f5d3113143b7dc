"""The reference petition in Arabic and French: Wagtail translations of the English page (same translation_key).

Signatures on /ar/no-more-weapons/ and /fr/no-more-weapons/ count on the English page (cms.translations),
and their verification emails go out in the page's language, from the wording below.
"""

from django.utils.html import escape

ARABIC = {
    "title": "الوزير بلينكن: لا مزيد من الأسلحة لإسرائيل!",
    "intro": "طالِبوا الوزير بلينكن بحظر صفقات بيع الأسلحة المستقبلية لإسرائيل.",
    "campaign": [
        "ابتداءً من الثالث من تموز/يوليو، كان الفلسطينيون في مخيم جنين للاجئين هدفًا لمداهمة دامية استمرت يومين "
        "شنّها الجيش الإسرائيلي. روّع الجيش مخيم اللاجئين من البر والجو، تاركًا الفلسطينيين بلا أي حماية خلال "
        "الاجتياح. وزعمت قوات الاحتلال الإسرائيلي أن هذا الهجوم عملية عسكرية تستهدف مقاتلي المقاومة، لكنّ بين "
        "القتلى الاثني عشر مدنيين، من بينهم أربعة أطفال.",
        "نُفّذ الهجوم على جنين بأسلحة اشتُريت عبر صفقات أسلحة أمريكية، ولا سيما مروحية الأباتشي من صنع شركة "
        "بوينغ، التي استُخدمت أيضًا في مهاجمة جنين خلال الانتفاضة الثانية. تنصّ سياسة نقل الأسلحة التقليدية (CAT) "
        "التي اعتمدها الرئيس بايدن على ألّا تأذن الولايات المتحدة بنقل الأسلحة إذا قُدّر أن المتلقّي سيستخدمها على "
        "الأرجح لارتكاب «انتهاكات جسيمة لاتفاقيات جنيف لعام 1949… بما في ذلك أعمال العنف الخطيرة ضد الأطفال». "
        "ورغم أن إسرائيل ما زالت تقتل الفلسطينيين بأسلحة أمريكية، لا تزال هذه الصفقات تُجاز في انتهاك واضح لسياسة "
        "نقل الأسلحة التقليدية وللقانون الدولي. انضمّوا إلينا في مطالبة بلينكن بحظر صفقات بيع الأسلحة المستقبلية "
        "لإسرائيل بإضافة أسمائكم أدناه!",
    ],
    "letter": [
        "قُتل أكثر من 130 فلسطينيًا، بينهم 35 طفلًا، على يد الجيش الإسرائيلي حتى الآن في عام 2023. ومن المؤسف "
        "أننا نعلم أن المزيد سيُقتلون، لأن الولايات المتحدة تواصل تمكين هذا العنف بتسليح إسرائيل.",
        "في الأسبوع الماضي فقط، شهدنا تصاعدًا في هذا العنف حين شنّ الجيش الإسرائيلي هجومًا على جنين خلال اجتياح "
        "استمر يومين. خلّف الهجوم 12 قتيلًا فلسطينيًا، بينهم أربعة أطفال، وأكثر من 50 جريحًا. وقد أصبح ذلك ممكنًا "
        "بأسلحة اشتُريت عبر صفقات أسلحة أمريكية، ولا سيما مروحية الأباتشي التي استُخدمت أيضًا في ترويع جنين خلال "
        "الانتفاضة الثانية عام 2002. واستُخدمت هذه الطائرة، من صنع شركة بوينغ، في قتل أطفال، في انتهاك لاتفاقيات "
        "جنيف لعام 1949.",
        "وفقًا لسياسة نقل الأسلحة التقليدية (CAT) التي اعتمدها الرئيس بايدن، لا ينبغي إجازة صفقات الأسلحة لإسرائيل، "
        "إذ أثبتت إسرائيل مرارًا وتكرارًا أنها ستستخدمها لانتهاك القانون الدولي وارتكاب جرائم ضد الإنسانية. وقد "
        "اعترفت الحكومة الإسرائيلية باستهداف أطفال جنين، والولايات المتحدة تسهّل جريمة الحرب هذه ما دامت ترفض حظر "
        "صفقات بيع الأسلحة المستقبلية لدولة الفصل العنصري.",
        "أهالي جنين لاجئون في وطنهم، وهم هدف للعنف الإسرائيلي منذ تهجيرهم من بيوتهم عام 1948. وليس لدى الحكومة "
        "والجيش الإسرائيليين أي سبب لمهاجمة هذه الفئة المستضعفة أصلًا سوى المضي في مشروع التطهير العرقي بقتلهم أو "
        "إجبارهم على الرحيل. على الولايات المتحدة أن تفعل كل ما في وسعها لوقف ذلك، ويبدأ هذا بالتزامها بسياستها "
        "الخاصة بنقل الأسلحة التقليدية، التي من شأنها أن تمنع صفقات بيع الأسلحة المستقبلية لإسرائيل.",
        "نحن الموقّعين أدناه نطلب منكم حظر صفقات الأسلحة المستقبلية مع إسرائيل لمنعها من الاستمرار في استهداف "
        "الأطفال وانتهاك القانون الدولي.",
    ],
    "greeting": "حضرة",
    "sign_off": "مع فائق الاحترام،",
    "signatories": "الموقّعون أدناه",
    "sign_heading": "هل ستوقّع؟",
    "button_label": "أضف اسمي",
    "counter_label": "شخصًا وقّعوا حتى الآن",
    "feed_heading": "من يوقّع",
    "share_heading": "شارك",
    "updates_heading": "آخر المستجدات",
    "thank_you_message": "<p>شكرًا لك! يُرجى التحقق من بريدك الإلكتروني والنقر على الرابط لتأكيد توقيعك.</p>",
    "confirmed_message": "<p>تم تأكيد توقيعك واحتسابه. شارك العريضة الآن!</p>",
    "consent_wording": "أوافق على إرسال اسمي وبلدي إلى المسؤولين الموجّهة إليهم هذه الرسالة",
    "verification_email_subject": "يُرجى تأكيد توقيعك على «{petition}»",
    "verification_email_body": (
        "مرحبًا،\n\n"
        "شكرًا لتوقيعك على «{petition}». يُحتسب توقيعك بعد تأكيده:\n\n"
        "{link}\n\n"
        "إذا لم تكن أنت من وقّع، فتجاهل هذه الرسالة ولن يُحتسب أي شيء."
    ),
}

FRENCH = {
    "title": "Secrétaire Blinken : plus d’armes pour Israël !",
    "intro": "Exigez que le secrétaire Blinken interdise toute future vente d’armes à Israël.",
    "campaign": [
        "À partir du 3 juillet, les Palestiniens du camp de réfugiés de Jénine ont été la cible d’un raid meurtrier "
        "de deux jours mené par l’armée israélienne. L’armée a terrorisé le camp depuis le sol et les airs, laissant "
        "les Palestiniens sans aucune protection pendant l’invasion. Les forces d’occupation israéliennes ont affirmé "
        "qu’il s’agissait d’une opération militaire visant des combattants de la résistance, mais des civils figurent "
        "parmi les 12 personnes tuées, dont quatre enfants.",
        "L’assaut contre Jénine a été mené avec des armes achetées dans le cadre de ventes d’armes américaines, "
        "notamment l’hélicoptère Apache, fabriqué par Boeing, déjà utilisé contre Jénine pendant la seconde intifada. "
        "La politique de transfert d’armes conventionnelles (CAT) du président Biden prévoit que les États-Unis "
        "n’autorisent aucun transfert d’armes s’il est jugé plus probable qu’improbable que le destinataire les "
        "utilise pour commettre « des infractions graves aux Conventions de Genève de 1949… y compris des actes de "
        "violence graves contre des enfants ». Bien qu’Israël continue de tuer des Palestiniens avec des armes "
        "américaines, ces ventes sont toujours autorisées, en violation manifeste de la politique CAT et du droit "
        "international. Rejoignez-nous pour exiger que Blinken interdise toute future vente d’armes à Israël en "
        "ajoutant votre nom ci-dessous !",
    ],
    "letter": [
        "Plus de 130 Palestiniens, dont 35 enfants, ont été tués par l’armée israélienne depuis le début de l’année "
        "2023. Nous savons malheureusement qu’il y en aura d’autres, car les États-Unis continuent de rendre cette "
        "violence possible en armant Israël.",
        "La semaine dernière encore, cette violence s’est embrasée lorsque l’armée israélienne a lancé une attaque "
        "contre Jénine au cours d’une invasion de deux jours. L’assaut a fait 12 morts palestiniens, dont quatre "
        "enfants, et plus de 50 blessés. Il a été rendu possible par des armes achetées dans le cadre de ventes "
        "d’armes américaines, notamment l’hélicoptère Apache, déjà utilisé pour terroriser Jénine pendant la seconde "
        "intifada en 2002. Cet appareil, fabriqué par Boeing, a servi à tuer des enfants, en violation des "
        "Conventions de Genève de 1949.",
        "Selon la politique de transfert d’armes conventionnelles (CAT) du président Biden, les ventes d’armes à "
        "Israël ne devraient pas être autorisées, puisqu’Israël a prouvé à maintes reprises qu’elles serviraient à "
        "violer le droit international et à commettre des crimes contre l’humanité. Le gouvernement israélien a "
        "reconnu avoir pris pour cible les enfants de Jénine, et les États-Unis facilitent ce crime de guerre tant "
        "qu’ils refusent d’interdire toute future vente d’armes à l’État d’apartheid.",
        "Les habitants de Jénine sont des réfugiés dans leur propre pays et la cible de la violence israélienne "
        "depuis leur expulsion de leurs foyers en 1948. Le gouvernement et l’armée israéliens n’ont aucune raison "
        "d’attaquer cette population déjà vulnérable, sinon pour poursuivre leur projet de nettoyage ethnique en la "
        "tuant ou en la forçant à partir. Les États-Unis doivent faire tout ce qui est en leur pouvoir pour y mettre "
        "fin, et cela commence par le respect de leur propre politique CAT, qui empêcherait toute future vente "
        "d’armes à Israël.",
        "Nous, soussignés, vous demandons d’interdire toute future vente d’armes à Israël afin de l’empêcher de "
        "continuer à prendre pour cible des enfants et à violer le droit international.",
    ],
    "greeting": "À l’attention de",
    "sign_off": "Veuillez agréer l’expression de notre haute considération,",
    "signatories": "Les soussignés",
    "sign_heading": "Allez-vous signer ?",
    "button_label": "Ajouter mon nom",
    "counter_label": "personnes ont déjà signé",
    "feed_heading": "Qui signe",
    "share_heading": "Partager",
    "updates_heading": "Actualités",
    "thank_you_message": (
        "<p>Merci ! Consultez votre messagerie et cliquez sur le lien pour confirmer votre signature.</p>"
    ),
    "confirmed_message": "<p>Votre signature est confirmée et comptée. Partagez maintenant la pétition !</p>",
    "consent_wording": "Transmettre mon nom et mon pays aux responsables à qui cette lettre est adressée",
    "verification_email_subject": "Merci de confirmer votre signature sur « {petition} »",
    "verification_email_body": (
        "Bonjour,\n\n"
        "Merci d’avoir signé « {petition} ». Votre signature ne compte qu’une fois confirmée :\n\n"
        "{link}\n\n"
        "Si vous n’avez pas signé, ignorez ce message : rien ne sera compté."
    ),
}

#: Language code (one of the demo's LANGUAGES) -> the reference petition's copy in it.
REFERENCE_TRANSLATIONS = {"ar": ARABIC, "fr": FRENCH}
INDEX_TITLES = {"ar": "الحملات", "fr": "Campagnes"}
PAGE_FIELDS = (
    "title",
    "intro",
    "thank_you_message",
    "confirmed_message",
    "consent_wording",
    "verification_email_subject",
    "verification_email_body",
)


def paragraphs(texts):
    return "".join(f"<p>{escape(text)}</p>" for text in texts)


def translated_body(body, copy):
    """The English page's body (its stream data) with each block's text replaced by ``copy``'s."""
    texts = {
        "text": lambda value: paragraphs(copy["campaign"]),
        "letter": lambda value: {
            **value,
            "greeting": copy["greeting"],
            "body": paragraphs(copy["letter"]),
            "sign_off": copy["sign_off"],
            "signatories": copy["signatories"],
        },
        "sign_form": lambda value: {**value, "heading": copy["sign_heading"], "button_label": copy["button_label"]},
        "counter": lambda value: {**value, "label": copy["counter_label"]},
        "signer_feed": lambda value: {**value, "heading": copy["feed_heading"]},
        "share_links": lambda value: {**value, "heading": copy["share_heading"], "message": copy["title"]},
        "updates": lambda value: {**value, "heading": copy["updates_heading"]},
    }
    return [
        {**block, "value": texts[block["type"]](block["value"])} if block["type"] in texts else block
        for block in body.get_prep_value()
    ]


def add_translations(reference):
    """Publish the reference petition's Arabic and French translations (and their index's), once."""
    from wagtail.models import Locale

    for language, copy in REFERENCE_TRANSLATIONS.items():
        locale, _ = Locale.objects.get_or_create(language_code=language)
        if reference.get_translation_or_none(locale) is not None:
            continue
        translated = reference.copy_for_translation(locale, copy_parents=True)
        parent = translated.get_parent().specific
        if not parent.live:  # the campaigns index, translated with it: the locale's pages are under it
            parent.title = INDEX_TITLES.get(language, parent.title)
            parent.save_revision().publish()
        for name in PAGE_FIELDS:
            setattr(translated, name, copy[name])
        translated.body = translated_body(reference.body, copy)
        translated.save_revision().publish()
