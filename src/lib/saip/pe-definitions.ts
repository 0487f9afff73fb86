// TCA "eUICC Profile Package: Interoperable Format Technical Specification" ASN.1 module
// PEDefinitions (version 3.3.1; earlier versions are prefixes of it), declared once as data for the
// schema codec in der-schema.ts. The module uses AUTOMATIC TAGS: an untagged component gets [n] by
// position, except in a SEQUENCE/CHOICE where some component carries its own tag — then none is
// added (X.680 §25.3). Tags below are the resulting bytes, constructed bit included.

import { contextTag, type Field, type Schema, UNIVERSAL } from './der-schema.js';

const octets: Schema = { kind: 'octets' };
const int: Schema = { kind: 'int' };
const nul: Schema = { kind: 'null' };
const oid: Schema = { kind: 'oid' };
const utf8: Schema = { kind: 'utf8' };
const seq = (fields: Field[]): Schema => ({ kind: 'seq', fields });
const seqOf = (item: Schema, itemTag?: number): Schema =>
  itemTag === undefined ? { kind: 'seqOf', item } : { kind: 'seqOf', item, itemTag };
const choice = (alts: Field[]): Schema => ({ kind: 'choice', alts });

const f = (name: string, tag: number, schema: Schema, optional = false): Field =>
  optional ? { name, tag, schema, optional } : { name, tag, schema };

/** Components named in order, AUTOMATIC TAGS: [0], [1], … ("name?" = OPTIONAL or DEFAULT). */
function automatic(components: readonly (readonly [string, Schema])[]): Field[] {
  return components.map(([spec, schema], n) => {
    const optional = spec.endsWith('?');
    const name = optional ? spec.slice(0, -1) : spec;
    const constructed = schema.kind === 'seq' || schema.kind === 'seqOf' || schema.kind === 'choice';
    return f(name, contextTag(n, constructed), schema, optional);
  });
}

/** PEHeader: mandated NULL OPTIONAL, identification UInt15. */
export const PE_HEADER: Schema = seq(
  automatic([
    ['mandated?', nul],
    ['identification', int],
  ]),
);

/** ServicesList: every service a NULL OPTIONAL, in this order. */
export const SERVICES = [
  'contactless',
  'usim',
  'isim',
  'csim',
  'milenage',
  'tuak128',
  'cave',
  'gba-usim',
  'gba-isim',
  'mbms',
  'eap',
  'javacard',
  'multos',
  'multiple-usim',
  'multiple-isim',
  'multiple-csim',
  'tuak256',
  'usim-test-algorithm',
  'ber-tlv',
  'dfLink',
  'cat-tp',
  'get-identity',
  'profile-a-x25519',
  'profile-b-p256',
  'suciCalculatorApi',
  'dns-resolution',
  'scp11ac',
  'scp11c-authorization-mechanism',
  's16mode',
  'eaka',
] as const;

export const PROFILE_HEADER: Schema = seq(
  automatic([
    ['major-version', int],
    ['minor-version', int],
    ['profileType?', utf8],
    ['iccid', octets],
    ['pol?', octets],
    ['eUICC-Mandatory-services', seq(automatic(SERVICES.map((s) => [`${s}?`, nul] as const)))],
    ['eUICC-Mandatory-GFSTEList', seqOf(oid, UNIVERSAL.OID)],
    ['connectivityParameters?', octets],
    [
      'eUICC-Mandatory-AIDs?',
      seqOf(
        seq(
          automatic([
            ['aid', octets],
            ['version', octets],
          ]),
        ),
        UNIVERSAL.SEQUENCE,
      ),
    ],
    ['iotOptions?', seq(automatic([['pix', octets]]))],
  ]),
);

/** ProprietaryInfo (own tags, ETSI TS 102 222 codings). */
const PROPRIETARY_INFO: Schema = seq([
  f('specialFileInformation', 0xc0, octets, true),
  f('fillPattern', 0xc1, octets, true),
  f('repeatPattern', 0xc2, octets, true),
  f('maximumFileSize', 0x86, octets, true),
  f('fileDetails', 0x84, octets, true),
]);

/** Fcp: the FCP template fields of TS 102 222 with their own tags. */
export const FCP: Schema = seq([
  f('fileDescriptor', 0x82, octets, true),
  f('fileID', 0x83, octets, true),
  f('dfName', 0x84, octets, true),
  f('lcsi', 0x8a, octets, true),
  f('securityAttributesReferenced', 0x8b, octets, true),
  f('efFileSize', 0x80, octets, true),
  f('pinStatusTemplateDO', 0xc6, octets, true),
  f('shortEFID', 0x88, octets, true),
  f('proprietaryEFInfo', 0xa5, PROPRIETARY_INFO, true),
  f('linkPath', 0xc7, octets, true),
]);

/** File ::= SEQUENCE OF CHOICE { doNotCreate, fileDescriptor, fillFileOffset, fillFileContent }. */
export const FILE: Schema = seqOf(
  choice([
    f('doNotCreate', 0x80, nul),
    f('fileDescriptor', 0xa1, FCP),
    f('fillFileOffset', 0x82, int),
    f('fillFileContent', 0x83, octets),
  ]),
);

/** A file-system PE: header, templateID, then the template's files ("name?" = OPTIONAL). */
function fileSystemPe(headerName: string, files: string): Schema {
  return seq(
    automatic([
      [headerName, PE_HEADER],
      ['templateID', oid],
      ...files
        .trim()
        .split(/\s+/)
        .map((name) => [name, FILE] as const),
    ]),
  );
}

/** File names of each template PE, in ASN.1 order. */
export const TEMPLATE_FILES = {
  mf: 'mf ef-pl? ef-iccid ef-dir ef-arr ef-umpc?',
  cd: 'df-cd ef-launchpad? ef-icon?',
  telecom: `df-telecom ef-arr? ef-rma? ef-sume? ef-ice-dn? ef-ice-ff? ef-psismsc? df-graphics? ef-img?
    ef-iidf? ef-ice-graphics? ef-launch-scws? ef-icon? df-phonebook? ef-pbr? ef-ext1? ef-aas? ef-gas?
    ef-psc? ef-cc? ef-puid? ef-iap? ef-adn? ef-pbc? ef-anr? ef-puri? ef-email? ef-sne? ef-uid? ef-grp?
    ef-ccp1? df-multimedia? ef-mml? ef-mmdf? df-mmss? ef-mlpl? ef-mspl? ef-mmssmode? df-mcs? ef-mst?
    ef-mcs-config? df-v2x? ef-vst? ef-v2x-config? ef-v2xp-pc5? ef-v2xp-Uu?`,
  usim: `adf-usim ef-imsi ef-arr ef-keys? ef-keysPS? ef-hpplmn? ef-ust ef-fdn? ef-sms? ef-smsp? ef-smss?
    ef-spn ef-est ef-start-hfn? ef-threshold? ef-psloci? ef-acc ef-fplmn? ef-loci? ef-ad? ef-ecc
    ef-netpar? ef-epsloci? ef-epsnsc?`,
  'opt-usim': `ef-li? ef-acmax? ef-acm? ef-gid1? ef-gid2? ef-msisdn? ef-puct? ef-cbmi? ef-cbmid? ef-sdn?
    ef-ext2? ef-ext3? ef-cbmir? ef-plmnwact? ef-oplmnwact? ef-hplmnwact? ef-dck? ef-cnl? ef-smsr? ef-bdn?
    ef-ext5? ef-ccp2? ef-ext4? ef-acl? ef-cmi? ef-ici? ef-oci? ef-ict? ef-oct? ef-vgcs? ef-vgcss? ef-vbs?
    ef-vbss? ef-emlpp? ef-aaem? ef-hiddenkey? ef-pnn? ef-opl? ef-mbdn? ef-ext6? ef-mbi? ef-mwis? ef-cfis?
    ef-ext7? ef-spdi? ef-mmsn? ef-ext8? ef-mmsicp? ef-mmsup? ef-mmsucp? ef-nia? ef-vgcsca? ef-vbsca?
    ef-gbabp? ef-msk? ef-muk? ef-ehplmn? ef-gbanl? ef-ehplmnpi? ef-lrplmnsi? ef-nafkca? ef-spni? ef-pnni?
    ef-ncp-ip? ef-ufc? ef-nasconfig? ef-uicciari? ef-pws? ef-fdnuri? ef-bdnuri? ef-sdnuri? ef-ial? ef-ips?
    ef-ipd? ef-epdgid? ef-epdgselection? ef-epdgidem? ef-epdgselectionem? ef-frompreferred?
    ef-imsconfigdata? ef-3gpppsdataoff? ef-3gpppsdataoffservicelist? ef-xcapconfigdata? ef-earfcnlist?
    ef-mudmidconfigdata? ef-eaka?`,
  isim: 'adf-isim ef-impi ef-impu ef-domain ef-ist ef-ad? ef-arr',
  'opt-isim': `ef-pcscf? ef-sms? ef-smsp? ef-smss? ef-smsr? ef-gbabp? ef-gbanl? ef-nafkca? ef-uicciari?
    ef-frompreferred? ef-imsconfigdata? ef-xcapconfigdata? ef-webrtcuri? ef-mudmidconfigdata?`,
  phonebook: `df-phonebook ef-pbr? ef-ext1? ef-aas? ef-gas? ef-psc? ef-cc? ef-puid? ef-iap? ef-adn? ef-pbc?
    ef-anr? ef-puri? ef-email? ef-sne? ef-uid? ef-grp? ef-ccp1?`,
  'gsm-access': 'df-gsm-access ef-kc? ef-kcgprs? ef-cpbcch? ef-invscan?',
  csim: `adf-csim ef-arr ef-call-count ef-imsi-m ef-imsi-t ef-tmsi ef-ah ef-aop ef-aloc ef-cdmahome
    ef-znregi ef-snregi ef-distregi ef-accolc ef-term ef-acp ef-prl ef-ruimid ef-csim-st ef-spc
    ef-otapaspc ef-namlock ef-ota ef-sp ef-esn-meid-me ef-li ef-usgind ef-ad ef-max-prl ef-spcs ef-mecrp
    ef-home-tag ef-group-tag ef-specific-tag ef-call-prompt`,
  'opt-csim': `ef-ssci? ef-fdn? ef-sms? ef-smsp? ef-smss? ef-ssfc? ef-spn? ef-mdn? ef-ecc? ef-me3gpdopc?
    ef-3gpdopm? ef-sipcap? ef-mipcap? ef-sipupp? ef-mipupp? ef-sipsp? ef-mipsp? ef-sippapss? ef-puzl?
    ef-maxpuzl? ef-hrpdcap? ef-hrpdupp? ef-csspr? ef-atc? ef-eprl? ef-bcsmscfg? ef-bcsmspref?
    ef-bcsmstable? ef-bcsmsp? ef-bakpara? ef-upbakpara? ef-mmsn? ef-ext8? ef-mmsicp? ef-mmsup? ef-mmsucp?
    ef-auth-capability? ef-3gcik? ef-dck? ef-gid1? ef-gid2? ef-cdmacnl? ef-sf-euimid? ef-est?
    ef-hidden-key? ef-lcsver? ef-lcscp? ef-sdn? ef-ext2? ef-ext3? ef-ici? ef-oci? ef-ext5? ef-ccp2?
    ef-applabels? ef-model? ef-rc? ef-smscap? ef-mipflags? ef-3gpduppext? ef-ipv6cap? ef-tcpconfig? ef-dgc?
    ef-wapbrowsercp? ef-wapbrowserbm? ef-mmsconfig? ef-jdl?`,
  eap: 'df-eap ef-eapkeys? ef-eapstatus ef-puid? ef-ps? ef-curid? ef-reid? ef-realm?',
  'df-5gs': `df-df-5gs ef-5gs3gpploci? ef-5gsn3gpploci? ef-5gs3gppnsc? ef-5gsn3gppnsc? ef-5gauthkeys?
    ef-uac-aic? ef-suci-calc-info? ef-opl5g? ef-supinai? ef-routing-indicator? ef-ursp? ef-tn3gppsnn?
    ef-cag? ef-sor-cmci? ef-dri? ef-5gsedrx? ef-5gnswo-conf? ef-mchpplmn? ef-kausf-derivation?`,
  'df-saip': 'df-df-saip ef-suci-calc-info-usim?',
  'df-snpn': 'df-df-snpn ef-pws-snpn?',
  'df-5gprose': `df-df-5g-prose ef-5g-prose-st? ef-5g-prose-dd? ef-5g-prose-dc? ef-5g-prose-u2nru?
    ef-5g-prose-ru? ef-5g-prose-uir?`,
  iot: `mf? ef-pl? ef-iccid? ef-dir? ef-arr? ef-umpc? adf-usim? ef-imsi ef-arr-usim? ef-keys? ef-keysPS?
    ef-hpplmn? ef-ust? ef-start-hfn? ef-threshold? ef-psloci? ef-acc ef-fplmn? ef-loci? ef-ad? ef-ecc?
    ef-netpar?`,
  'opt-iot': `ef-fdn? ef-sms? ef-smsp? ef-smss? ef-spn? ef-est? ef-oplmnwact? ef-hplmnwact? ef-ehplmn?
    ef-epsloci? ef-epsnsc? df-df-5gs? ef-5gs3gpploci? ef-5gsn3gpploci? ef-5gs3gppnsc? ef-5gsn3gppnsc?
    ef-5gauthkeys? ef-uac-aic? ef-suci-calc-info? ef-opl5g? ef-supi-nai? ef-routing-indicator? ef-ursp?
    ef-tn3gppsnn? df-df-saip? ef-suci-calc-info-usim?`,
} as const;

export type TemplatePeType = keyof typeof TEMPLATE_FILES;

/** FileManagement ::= SEQUENCE OF CHOICE (own tags: no automatic tagging). */
const FILE_MANAGEMENT: Schema = seqOf(
  choice([
    f('filePath', 0x80, octets),
    f('createFCP', 0x62, FCP),
    f('fillFileOffset', UNIVERSAL.INTEGER, int),
    f('fillFileContent', 0x81, octets),
  ]),
);

const GENERIC_FILE_MANAGEMENT: Schema = seq(
  automatic([
    ['gfm-header', PE_HEADER],
    ['fileManagementCMD', seqOf(FILE_MANAGEMENT, UNIVERSAL.SEQUENCE)],
  ]),
);

/** AlgoParameter; algorithmID 1 Milenage, 2 TUAK, 3 usim-test-algorithm (TS 34.108 §8.1.2). */
const ALGO_PARAMETER: Schema = seq(
  automatic([
    ['algorithmID', int],
    ['algorithmOptions', octets],
    ['key', octets],
    ['opc', octets],
    ['rotationConstants?', octets],
    ['xoringConstants?', octets],
    ['authCounterMax?', octets],
    ['numberOfKeccak?', int],
  ]),
);

const AKA_PARAMETER: Schema = seq(
  automatic([
    ['aka-header', PE_HEADER],
    [
      'algoConfiguration',
      choice(
        automatic([
          [
            'mappingParameter',
            seq(
              automatic([
                ['mappingOptions', octets],
                ['mappingSource', octets],
              ]),
            ),
          ],
          ['algoParameter', ALGO_PARAMETER],
        ]),
      ),
    ],
    ['sqnOptions?', octets],
    ['sqnDelta?', octets],
    ['sqnAgeLimit?', octets],
    ['sqnInit?', seqOf(octets, UNIVERSAL.OCTET_STRING)],
  ]),
);

const CDMA_PARAMETER: Schema = seq(
  automatic([
    ['cdma-header', PE_HEADER],
    ['authenticationKey', octets],
    ['ssd?', octets],
    ['hrpdAccessAuthenticationData?', octets],
    ['simpleIPAuthenticationData?', octets],
    ['mobileIPAuthenticationData?', octets],
  ]),
);

const PIN_CONFIGURATION: Schema = seq(
  automatic([
    ['keyReference', int],
    ['pinValue', octets],
    ['unblockingPINReference?', int],
    ['pinAttributes?', int],
    ['maxNumOfAttemps-retryNumLeft?', int],
  ]),
);

const PIN_CODES: Schema = seq(
  automatic([
    ['pin-Header', PE_HEADER],
    [
      'pinCodes',
      choice(
        automatic([
          ['pinconfig', seqOf(PIN_CONFIGURATION, UNIVERSAL.SEQUENCE)],
          ['filePath', octets],
        ]),
      ),
    ],
  ]),
);

const PUK_CODES: Schema = seq(
  automatic([
    ['puk-Header', PE_HEADER],
    [
      'pukCodes',
      seqOf(
        seq(
          automatic([
            ['keyReference', int],
            ['pukValue', octets],
            ['maxNumOfAttemps-retryNumLeft?', int],
          ]),
        ),
        UNIVERSAL.SEQUENCE,
      ),
    ],
  ]),
);

const AID = 0x4f; // [APPLICATION 15]

const APPLICATION_SYSTEM_PARAMETERS: Schema = seq([
  f('volatileMemoryQuotaC7', 0xc7, octets, true),
  f('nonVolatileMemoryQuotaC8', 0xc8, octets, true),
  f('globalServiceParameters', 0xcb, octets, true),
  f('implicitSelectionParameter', 0xcf, octets, true),
  f('volatileReservedMemory', 0xd7, octets, true),
  f('nonVolatileReservedMemory', 0xd8, octets, true),
  f('ts102226SIMFileAccessToolkitParameter', 0xca, octets, true),
  f(
    'ts102226AdditionalContactlessParameters',
    0xa0,
    seq(automatic([['protocolParameterData', octets]])),
    true,
  ),
  f('contactlessProtocolParameters', 0xd9, octets, true),
  f('userInteractionContactlessParameters', 0xda, octets, true),
  f('cumulativeGrantedVolatileMemory', 0x82, octets, true),
  f('cumulativeGrantedNonVolatileMemory', 0x83, octets, true),
]);

export const APPLICATION_INSTANCE: Schema = seq([
  f('applicationLoadPackageAID', AID, octets),
  f('classAID', AID, octets),
  f('instanceAID', AID, octets),
  f('extraditeSecurityDomainAID', AID, octets, true),
  f('applicationPrivileges', 0x82, octets),
  f('lifeCycleState', 0x83, octets, true),
  f('applicationSpecificParametersC9', 0xc9, octets),
  f('systemSpecificParameters', 0xef, APPLICATION_SYSTEM_PARAMETERS, true),
  f(
    'applicationParameters',
    0xea,
    seq(
      automatic([
        ['uiccToolkitApplicationSpecificParametersField?', octets],
        ['uiccAccessApplicationSpecificParametersField?', octets],
        ['uiccAdministrativeAccessApplicationSpecificParametersField?', octets],
      ]),
    ),
    true,
  ),
  f('processData', UNIVERSAL.SEQUENCE, seqOf(octets, UNIVERSAL.OCTET_STRING), true),
  f('controlReferenceTemplate', 0xb0, seq([f('applicationProviderIdentifier', 0x5f20, octets)]), true),
]);

const KEY_OBJECT: Schema = seq([
  f('keyUsageQualifier', 0x95, octets),
  f('keyAccess', 0x96, octets, true),
  f('keyIdentifier', 0x82, octets),
  f('keyVersionNumber', 0x83, octets),
  f('keyCounterValue', 0x85, octets, true),
  f(
    'keyComponents',
    UNIVERSAL.SEQUENCE,
    seqOf(
      seq([f('keyType', 0x80, octets), f('keyData', 0x86, octets), f('macLength', 0x87, int, true)]),
      UNIVERSAL.SEQUENCE,
    ),
  ),
]);

const SECURITY_DOMAIN: Schema = seq(
  automatic([
    ['sd-Header', PE_HEADER],
    ['instance', APPLICATION_INSTANCE],
    ['keyList?', seqOf(KEY_OBJECT, UNIVERSAL.SEQUENCE)],
    ['sdPersoData?', seqOf(octets, UNIVERSAL.OCTET_STRING)],
    [
      'openPersoData?',
      seq([
        f('restrictParameter', 0xdf19, octets, true),
        f('contactlessProtocolParameters', UNIVERSAL.OCTET_STRING, octets, true),
      ]),
    ],
    [
      'catTpParameters?',
      seq(
        automatic([
          ['catTpMaxSduSize', int],
          ['catTpMaxPduSize', int],
        ]),
      ),
    ],
  ]),
);

const APPLICATION: Schema = seq(
  automatic([
    ['app-Header', PE_HEADER],
    [
      'loadBlock?',
      seq([
        f('loadPackageAID', AID, octets),
        f('securityDomainAID', AID, octets, true),
        f('nonVolatileCodeLimitC6', 0xc6, octets, true),
        f('volatileDataLimitC7', 0xc7, octets, true),
        f('nonVolatileDataLimitC8', 0xc8, octets, true),
        f('hashValue', 0xc1, octets, true),
        f('loadBlockObject', 0xc4, octets),
      ]),
    ],
    ['instanceList?', seqOf(APPLICATION_INSTANCE, UNIVERSAL.SEQUENCE)],
  ]),
);

/** PE-RFM carries its own tags (rfm-header [0] and tarList [0] both 'A0', told apart by order). */
const RFM: Schema = seq([
  f('rfm-header', 0xa0, PE_HEADER),
  f('instanceAID', AID, octets),
  f('securityDomainAID', AID, octets, true),
  f('tarList', 0xa0, seqOf(octets, UNIVERSAL.OCTET_STRING), true),
  f('minimumSecurityLevel', 0x81, octets),
  f('uiccAccessDomain', UNIVERSAL.OCTET_STRING, octets),
  f('uiccAdminAccessDomain', UNIVERSAL.OCTET_STRING, octets),
  f(
    'adfRFMAccess',
    UNIVERSAL.SEQUENCE,
    seq(
      automatic([
        ['adfAID', octets],
        ['adfAccessDomain', octets],
        ['adfAdminAccessDomain', octets],
      ]),
    ),
    true,
  ),
]);

const NON_STANDARD: Schema = seq(
  automatic([
    ['nonStandard-header', PE_HEADER],
    ['issuerID', oid],
    ['content', octets],
  ]),
);

const END: Schema = seq(automatic([['end-header', PE_HEADER]]));

/** The ProfileElement CHOICE, in ASN.1 order: [0] header … [33] opt-iot; rfu1..5 are [11]..[15]. */
const PE_CHOICE: readonly (readonly [string, Schema])[] = [
  ['header', PROFILE_HEADER],
  ['genericFileManagement', GENERIC_FILE_MANAGEMENT],
  ['pinCodes', PIN_CODES],
  ['pukCodes', PUK_CODES],
  ['akaParameter', AKA_PARAMETER],
  ['cdmaParameter', CDMA_PARAMETER],
  ['securityDomain', SECURITY_DOMAIN],
  ['rfm', RFM],
  ['application', APPLICATION],
  ['nonStandard', NON_STANDARD],
  ['end', END],
  ['rfu1', seq([])],
  ['rfu2', seq([])],
  ['rfu3', seq([])],
  ['rfu4', seq([])],
  ['rfu5', seq([])],
  ...(Object.keys(TEMPLATE_FILES) as TemplatePeType[]).map((type) => {
    const header = type === 'df-5gprose' ? 'df-5g-prose-header' : `${type.replace('opt-', 'opt')}-header`;
    return [type, fileSystemPe(header, TEMPLATE_FILES[type])] as const;
  }),
];

export type PeType =
  | 'header'
  | 'genericFileManagement'
  | 'pinCodes'
  | 'pukCodes'
  | 'akaParameter'
  | 'cdmaParameter'
  | 'securityDomain'
  | 'rfm'
  | 'application'
  | 'nonStandard'
  | 'end'
  | 'rfu1'
  | 'rfu2'
  | 'rfu3'
  | 'rfu4'
  | 'rfu5'
  | TemplatePeType;

/** Every PE type with its tag and schema. */
export const PE_TYPES: readonly { readonly type: PeType; readonly tag: number; readonly schema: Schema }[] =
  PE_CHOICE.map(([type, schema], n) => ({ type: type as PeType, tag: contextTag(n, true), schema }));

/** PEStatus and EUICCResponse (a SEQUENCE at top level: universal tag '30'). */
export const PE_STATUS: Schema = seq(
  automatic([
    ['status', int],
    ['identification?', int],
    ['additional-information?', int],
    ['offset?', int],
  ]),
);

export const EUICC_RESPONSE: Schema = seq(
  automatic([
    ['peStatus', seqOf(PE_STATUS, UNIVERSAL.SEQUENCE)],
    ['profileInstallationAborted?', nul],
    ['statusMessage?', utf8],
  ]),
);
