// SGP.02 §5 message table: every ES1/ES2/ES3/ES4/ES7 message of the v3 schema is declared once and
// one generic walk encodes and decodes each with example values (STYLE §1).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FUNCTIONS,
  MESSAGE_BY_ACTION,
  MESSAGE_BY_ELEMENT,
  MESSAGES,
  type MessageBodies,
} from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import { isXmlText } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import {
  decodeSoapMessage,
  encodeSoapMessage,
  newMessageId,
} from '../../../../src/platform/esim/es-soap/soap-envelope.js';
import { arbitraryFields, EID, sampleBody } from './fixtures.js';

const addressingOf = (action: string) => ({
  action,
  messageId: newMessageId(),
  to: 'https://sm-sr.example:8443/esim/soap',
  from: 'https://sm-dp.example:8443/esim/soap',
  replyTo: 'https://sm-dp.example:8443/esim/soap',
});

describe('SGP.02 message table', () => {
  it('lists every function of the v3 schema (esim.md §1.4) with request+response or notification', () => {
    const names = (iface: string) =>
      FUNCTIONS.filter((f) => f.iface === iface)
        .map((f) => f.name)
        .sort();
    expect(names('ES1')).toEqual(['RegisterEIS']);
    expect(names('ES2')).toEqual(
      [
        'GetEIS',
        'DownloadProfile',
        'UpdatePolicyRules',
        'UpdateSubscriptionAddress',
        'EnableProfile',
        'DisableProfile',
        'DeleteProfile',
        'HandleProfileDisabledNotification',
        'HandleProfileEnabledNotification',
        'HandleProfileDeletedNotification',
        'HandleSMSRChangeNotification',
      ].sort(),
    );
    expect(names('ES3')).toEqual(
      [
        'GetEIS',
        'AuditEIS',
        'CreateISDP',
        'SendData',
        'ProfileDownloadCompleted',
        'UpdatePolicyRules',
        'UpdateSubscriptionAddress',
        'EnableProfile',
        'DisableProfile',
        'DeleteISDP',
        'UpdateConnectivityParameters',
        'HandleProfileDisabledNotification',
        'HandleProfileEnabledNotification',
        'HandleProfileDeletedNotification',
        'HandleSMSRChangeNotification',
      ].sort(),
    );
    expect(names('ES4')).toEqual(
      [
        'GetEIS',
        'AuditEIS',
        'UpdatePolicyRules',
        'UpdateSubscriptionAddress',
        'EnableProfile',
        'DisableProfile',
        'DeleteProfile',
        'PrepareSMSRChange',
        'SMSRChange',
        'HandleProfileDisabledNotification',
        'HandleProfileEnabledNotification',
        'HandleProfileDeletedNotification',
        'HandleSMSRChangeNotification',
      ].sort(),
    );
    expect(names('ES7')).toEqual(
      ['HandoverEUICC', 'AuthenticateSMSR', 'CreateAdditionalKeySet', 'HandleSMSRChangeNotification'].sort(),
    );
    // Element names and Actions identify a row uniquely (the listener routes by Action).
    expect(MESSAGE_BY_ELEMENT.size).toBe(MESSAGES.length);
    expect(MESSAGE_BY_ACTION.size).toBe(MESSAGES.length);
    expect(MESSAGES.length).toBe(75);
  });

  it('Actions follow the Annex B binding: requests to the service, responses to its CallBack', () => {
    expect(MESSAGE_BY_ELEMENT.get('ES3-SendDataRequest')?.action).toBe(
      'http://gsma.com/ES3/ProfileManagement/ES3-SendData',
    );
    expect(MESSAGE_BY_ELEMENT.get('ES3-SendDataResponse')?.action).toBe(
      'http://gsma.com/ES3/ProfileManagementCallBack/ES3-SendData',
    );
    expect(MESSAGE_BY_ELEMENT.get('ES4-PrepareSMSRChangeRequest')?.action).toBe(
      'http://gsma.com/ES4/eUICCManagement/ES4-PrepareSMSRChange',
    );
    expect(MESSAGE_BY_ELEMENT.get('ES7-HandoverEUICCRequest')?.action).toBe(
      'http://gsma.com/ES7/eUICCManagement/ES7-HandoverEUICC',
    );
    expect(MESSAGE_BY_ELEMENT.get('ES2-HandleProfileEnabledNotification')?.action).toBe(
      'http://gsma.com/ES2/ProfileManagement/ES2-HandleProfileEnabledNotification',
    );
  });

  it.each(MESSAGES.map((m) => [m.element, m] as const))(
    '%s encodes and decodes to the same value',
    (_element, spec) => {
      const body = sampleBody(spec);
      const addressing = addressingOf(spec.action);
      const xml = encodeSoapMessage({ addressing, message: { element: spec.element, body } as never });
      const decoded = decodeSoapMessage(xml);
      if (!decoded.ok) throw new Error(`${decoded.error.code}: ${decoded.error.message}`);
      expect(decoded.value.message).toEqual({ element: spec.element, body });
      expect(decoded.value.addressing).toEqual(addressing);
      expect(encodeSoapMessage({ addressing, message: decoded.value.message })).toBe(xml);
    },
  );

  it('property: every message of the table round-trips random valid bodies (values from the type tables)', () => {
    for (const spec of MESSAGES) {
      fc.assert(
        fc.property(arbitraryFields(spec.fields), (body) => {
          const addressing = addressingOf(spec.action);
          const xml = encodeSoapMessage({ addressing, message: { element: spec.element, body } as never });
          const decoded = decodeSoapMessage(xml);
          if (!decoded.ok)
            throw new Error(`${spec.element}: ${decoded.error.code}: ${decoded.error.message}`);
          expect(decoded.value.message.body).toEqual(body);
        }),
        { numRuns: spec.fields.some((f) => f.type === 'eis') ? 5 : 25 },
      );
    }
  });

  it('every code point the text check accepts round-trips; the rest is refused by the encoder', () => {
    const accepted: string[] = [];
    for (let c = 0; c <= 0x10ffff; c += c < 0x10000 ? 1 : 0x3ff) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const ch = String.fromCodePoint(c);
      if (isXmlText(ch)) accepted.push(ch);
      else expect([0x85, 0x2028, 0x2029, 0xfffd, 0xfffe, 0xffff, 0x0d].includes(c) || c < 0x20).toBe(true);
    }
    const action = 'http://gsma.com/ES3/ProfileManagement/ES3-SendData';
    for (let i = 0; i < accepted.length; i += 2_000) {
      const text = accepted.slice(i, i + 2_000).join('');
      const body = {
        functionCallIdentifier: text,
        eid: EID,
        sdAid: 'A0000005591010FFFFFFFF8900001000',
        data: new Uint8Array(),
      };
      const decoded = decodeSoapMessage(
        encodeSoapMessage({
          addressing: addressingOf(action),
          message: { element: 'ES3-SendDataRequest', body },
        }),
      );
      expect(decoded.ok && decoded.value.message.body).toEqual(body);
    }
    expect(() =>
      encodeSoapMessage({
        addressing: addressingOf(action),
        message: {
          element: 'ES3-SendDataRequest',
          body: {
            functionCallIdentifier: 'a\rb',
            eid: EID,
            sdAid: 'A0000005591010FFFFFFFF8900001000',
            data: new Uint8Array(),
          },
        },
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_ESIM_SOAP_INVALID_MESSAGE' }));
  });

  it('pins the wire form of ES3-SendDataRequest (SOAP 1.2, WS-Addressing, esim-messaging namespace)', () => {
    const body: MessageBodies['ES3-SendDataRequest'] = {
      functionCallIdentifier: 'dl-1',
      validityPeriod: 600,
      eid: EID,
      sdAid: 'A0000005591010FFFFFFFF8900001000',
      data: new Uint8Array([0x80, 0xe6, 0x20, 0x00]),
      moreToDo: true,
    };
    const xml = encodeSoapMessage({
      addressing: {
        action: 'http://gsma.com/ES3/ProfileManagement/ES3-SendData',
        messageId: 'urn:uuid:00000000-0000-4000-8000-000000000001',
        to: 'https://sr/es',
        from: 'https://dp/es',
        replyTo: 'https://dp/es',
      },
      message: { element: 'ES3-SendDataRequest', body },
    });
    expect(xml).toBe(
      '<env:Envelope xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:env="http://www.w3.org/2003/05/soap-envelope">' +
        '<env:Header><wsa:From><wsa:Address>https://dp/es</wsa:Address></wsa:From><wsa:To>https://sr/es</wsa:To>' +
        '<wsa:ReplyTo><wsa:Address>https://dp/es</wsa:Address></wsa:ReplyTo>' +
        '<wsa:MessageID>urn:uuid:00000000-0000-4000-8000-000000000001</wsa:MessageID>' +
        '<wsa:Action>http://gsma.com/ES3/ProfileManagement/ES3-SendData</wsa:Action></env:Header>' +
        '<env:Body><ES3-SendDataRequest xmlns="http://namespaces.gsma.org/esim-messaging/3">' +
        '<FunctionCallIdentifier>dl-1</FunctionCallIdentifier><ValidityPeriod>600</ValidityPeriod>' +
        '<Eid>89049032123451234512345678901235</Eid><Sd-aid>A0000005591010FFFFFFFF8900001000</Sd-aid>' +
        '<Data>80E62000</Data><MoreToDo>true</MoreToDo></ES3-SendDataRequest></env:Body></env:Envelope>',
    );
  });

  it('property: ES3-SendData round-trips any data, any text identifier, any optional flag', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 64, unit: 'grapheme' }).filter(isXmlText),
        fc.uint8Array({ maxLength: 300 }),
        fc.option(fc.boolean(), { nil: undefined }),
        fc.option(fc.nat(1_000_000), { nil: undefined }),
        (id, data, moreToDo, validityPeriod) => {
          const body = {
            functionCallIdentifier: id,
            eid: EID,
            sdAid: 'A0000005591010FFFFFFFF8900001000',
            data,
            ...(moreToDo === undefined ? {} : { moreToDo }),
            ...(validityPeriod === undefined ? {} : { validityPeriod }),
          } satisfies MessageBodies['ES3-SendDataRequest'];
          const xml = encodeSoapMessage({
            addressing: addressingOf('http://gsma.com/ES3/ProfileManagement/ES3-SendData'),
            message: { element: 'ES3-SendDataRequest', body },
          });
          const decoded = decodeSoapMessage(xml);
          expect(decoded.ok && decoded.value.message.body).toEqual(body);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a FAILED response may omit the function outputs; a successful one may not', () => {
    const addressing = addressingOf('http://gsma.com/ES3/ProfileManagementCallBack/ES3-CreateISDP');
    const failedXml = encodeSoapMessage({
      addressing,
      message: {
        element: 'ES3-CreateISDPResponse',
        body: {
          functionExecutionStatus: { status: 'FAILED', statusCodeData: { subject: '8.1.1', reason: '3.9' } },
        } as never,
      },
    });
    const decoded = decodeSoapMessage(failedXml);
    expect(decoded.ok && decoded.value.message.body).toEqual({
      functionExecutionStatus: { status: 'FAILED', statusCodeData: { subject: '8.1.1', reason: '3.9' } },
    });
    expect(() =>
      encodeSoapMessage({
        addressing,
        message: {
          element: 'ES3-CreateISDPResponse',
          body: { functionExecutionStatus: { status: 'EXECUTED_SUCCESS' } } as never,
        },
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_ESIM_SOAP_INVALID_MESSAGE' }));
    const successWithout = failedXml.replace('<Status>FAILED</Status>', '<Status>EXECUTED_SUCCESS</Status>');
    const strict = decodeSoapMessage(successWithout);
    expect(strict.ok ? undefined : strict.error.code).toBe('SOAP_FIELD_MISSING');
  });

  it('refuses to encode values outside the schema with ERR_ESIM_SOAP_INVALID_MESSAGE naming the field', () => {
    const bad = { functionCallIdentifier: 'x', eid: '1234', iccid: '8988211000000467285' };
    expect(() =>
      encodeSoapMessage({
        addressing: addressingOf('http://gsma.com/ES3/ProfileManagement/ES3-EnableProfile'),
        message: { element: 'ES3-EnableProfileRequest', body: bad },
      }),
    ).toThrow(/ES3-EnableProfileRequest\/Eid/);
    // A date whose xs:dateTime form would not read back (year 10000 is +010000-…).
    expect(() =>
      encodeSoapMessage({
        addressing: addressingOf(
          'http://gsma.com/ES4/ProfileManagement/ES4-HandleProfileEnabledNotification',
        ),
        message: {
          element: 'ES4-HandleProfileEnabledNotification',
          body: {
            eid: EID,
            iccid: '8988211000000467285',
            completionTimestamp: new Date(Date.UTC(10_000, 0, 1)),
          },
        },
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_ESIM_SOAP_INVALID_MESSAGE' }));
  });
});
