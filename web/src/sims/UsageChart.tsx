import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useI18n } from '../i18n/i18n';

/** Upload and download bytes per period (uPlot), with the same numbers as a table for screen readers. */
export function UsageChart({
  points,
  spanSeconds,
}: {
  points: ReadonlyArray<{ unixtime: number; upload: number; download: number }>;
  /** The period the query covered, ending now: the time axis shows all of it, however few points. */
  spanSeconds: number;
}) {
  const { t, formatTime, formatNumber, language } = useI18n();
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = box.current;
    if (el === null || points.length === 0) return;
    const to = Math.floor(Date.now() / 1000);
    const compact = new Intl.NumberFormat(language, { notation: 'compact', maximumFractionDigits: 1 });
    const data: uPlot.AlignedData = [
      points.map((p) => p.unixtime),
      points.map((p) => p.upload),
      points.map((p) => p.download),
    ];
    const chart = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: 220,
        series: [
          {},
          { label: t('sim.upload'), stroke: '#1d6fb8', width: 2, points: { show: true } },
          { label: t('sim.download'), stroke: '#b4531d', width: 2, points: { show: true } },
        ],
        scales: { x: { time: true, range: () => [to - spanSeconds, to] } },
        axes: [{}, { size: 60, values: (_u, splits) => splits.map((v) => compact.format(v)) }],
      },
      data,
      el,
    );
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(280, el.clientWidth), height: 220 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [points, t, language, spanSeconds]);

  if (points.length === 0) return <p>{t('sim.noUsage')}</p>;
  return (
    <>
      <div ref={box} className="chart" aria-hidden="true" data-points={points.length} />
      <table className="visually-hidden">
        <caption>{t('sim.usage')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('sim.time')}</th>
            <th scope="col">{t('sim.upload')}</th>
            <th scope="col">{t('sim.download')}</th>
          </tr>
        </thead>
        <tbody>
          {points.map((p) => (
            <tr key={p.unixtime}>
              <td>{formatTime(p.unixtime * 1000)}</td>
              <td>{formatNumber(p.upload)}</td>
              <td>{formatNumber(p.download)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
