// The response grid's "declared" column: a mark on each nation asked for something
// it declared it holds (a standing capacity that fills an open need of this
// emergency), from the row's declared_capacities. The title lists every such need.
import { h } from '../dom.js';
import { typeName } from '../format.js';
import { t } from '../i18n.js';
import { extraColumns } from './responses.js';

const held = (d) => t('common.times', { name: typeName(d.resource_type), quantity: d.quantity });

function mark(row) {
  const declared = row.declared_capacities || [];
  if (!declared.length) return '';
  const more = declared.length > 1 ? ` ${t('responses.declared_more', { count: declared.length - 1 })}` : '';
  return h('span', {
    class: 'badge declared-mark',
    dataset: { needs: declared.map((d) => d.need_id).join(' ') },
    title: declared.map((d) => t('responses.declared_for', { what: held(d), need: typeName(d.need_type) })).join('\n'),
    text: t('responses.declared_mark', { what: held(declared[0]) }) + more,
  });
}

extraColumns.push({ key: 'declared', head: () => t('responses.declared'), cell: mark });
