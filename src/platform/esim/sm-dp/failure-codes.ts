// The SM-DP's failure codes: why a DownloadProfile ended FAILED, beside the SGP.02 Subject/Reason of
// its FunctionExecutionStatus. Stored in esim_dp_downloads.failure_code and named at the start of the
// status message; docs/esim.md lists each (a test keeps them in step).

export const SMDP_FAILURES = {
  SMDP_UNKNOWN_ICCID: 'the ICCID is not a SIM of the calling operator’s inventory',
  SMDP_PROFILE_ALGORITHM: 'the profile type runs another AKA algorithm than the SIM’s sealed one',
  SMDP_PROFILE_BUILD: 'the inventory data does not make a profile package of this type',
  SMDP_PROFILE_MISMATCH:
    'a fixed profile (ts48-generic) asked for a SIM that does not carry its ICCID, IMSI and K',
  SMDP_EIS_UNAVAILABLE: 'ES3.GetEIS failed: the SM-SR does not know the eUICC (its status is relayed)',
  SMDP_EIS_MISMATCH: 'the EIS returned is of another eUICC or another SM-SR than the request names',
  SMDP_ECASD_CERTIFICATE:
    'CERT.ECASD.ECKA does not chain to a trusted CI through its EUM, or is issued to another EID (the CERT_* refusal is in the message)',
  SMDP_ICCID_ON_EUICC: 'the eUICC already holds a profile with this ICCID',
  SMDP_EUICC_MEMORY: 'the EIS shows less free memory than the profile type needs',
  SMDP_CLEAN_UP: 'an ISD-P this SM-DP left in Created state could not be deleted',
  SMDP_CREATE_ISDP: 'ES3.CreateISDP failed (its status is relayed)',
  SMDP_NO_CERTIFICATE: 'this SM-DP has no usable certificate and key (SK.DP.ECDSA) to establish keys with',
  SMDP_SEND_DATA: 'ES3.SendData failed at the SM-SR (transport, busy, no such ISD-P; its status is relayed)',
  SMDP_CARD_REFUSED: 'the card answered a key establishment or SCP03t command with an error status word',
  SMDP_KEY_ESTABLISHMENT: 'the card gave no random challenge, or the key establishment lost its state',
  SMDP_RECEIPT_INVALID:
    'the receipt does not prove the card derived the key set from our ephemeral key and the verified PK.ECASD.ECKA',
  SMDP_SCP03T:
    'the SCP03t channel failed: card cryptogram, an SCP03t error TLV (9F44/45/46) or an R-MAC that does not verify',
  SMDP_DOWNLOAD: 'the download lost its key set or package',
  SMDP_EUICC_RESPONSE: 'the last segment was not answered with an EUICCResponse',
  SMDP_PE_REFUSED: 'the EUICCResponse does not report every PE of the package installed',
  SMDP_DOWNLOAD_COMPLETED:
    'ES3.ProfileDownloadCompleted failed: the SM-SR does not see the profile installed',
  SMDP_INTERRUPTED:
    'the SM-DP restarted during key establishment more often than allowed, or during the error sub-routine',
  SMDP_EXPIRED: 'the request’s ValidityPeriod passed before the procedure ended (status EXPIRED)',
  SMDP_INTERNAL: 'an unexpected exception inside a step (logged; nothing secret in the status)',
} as const;

export type SmdpFailureCode = keyof typeof SMDP_FAILURES;
